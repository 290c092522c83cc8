// Kafka's topic name rule and the "can this template ever render a legal name" check (issue #8).
import { describe, expect, test } from 'vitest'
import { isLegalKafkaTopic, kafkaTopicProblem, kafkaTopicTemplateProblem } from '../../config/kafka-topic.js'

describe('kafkaTopicProblem', () => {
  test('letters, digits, ".", "_" and "-" from 1 to 249 characters are legal', () => {
    for (const name of [
      'a',
      'Z',
      '0',
      '_',
      '-',
      '...',
      '.a',
      'sites.pi-kitchen.telemetry',
      'A_b-9.x',
      'x'.repeat(249),
    ]) {
      expect(kafkaTopicProblem(name), name).toBeUndefined()
      expect(isLegalKafkaTopic(name)).toBe(true)
    }
  })

  test('"." and ".." are not legal', () => {
    expect(kafkaTopicProblem('.')).toMatch(/not a legal/)
    expect(kafkaTopicProblem('..')).toMatch(/not a legal/)
  })

  test('empty and 250 characters are not legal', () => {
    expect(kafkaTopicProblem('')).toMatch(/empty/)
    expect(kafkaTopicProblem('x'.repeat(250))).toMatch(/at most 249 characters \(this one has 250\)/)
  })

  test('any other character is not legal, and the message names it', () => {
    for (const [name, char] of [
      ['sensors/a', '/'],
      ['a b', ' '],
      ['a+b', '+'],
      ['a#', '#'],
      ['a:b', ':'],
      ['été', 'é'],
      ['a\u0000', '\u0000'],
      ['tab\t', '\t'],
    ] as const) {
      expect(isLegalKafkaTopic(name), name).toBe(false)
      expect(kafkaTopicProblem(name)).toContain(JSON.stringify(char))
    }
  })
})

describe('kafkaTopicTemplateProblem', () => {
  const never = (template: string, match: string, gatewayId?: string) =>
    expect(kafkaTopicTemplateProblem(template, match, gatewayId), template).toMatch(/^can never be a legal/)
  const might = (template: string, match: string, gatewayId?: string) =>
    expect(kafkaTopicTemplateProblem(template, match, gatewayId), template).toBeUndefined()

  test('a literal "/" (or any illegal literal character) rules out every rendering', () => {
    never('sites/{1}', 'sensors/+/telemetry')
    never('telemetry {1}', 'sensors/+/telemetry')
    never('tele:metry', 'sensors/#')
    expect(kafkaTopicTemplateProblem('sites/{1}', 'sensors/+/telemetry')).toContain('"/"')
  })

  test('{topic} of a filter whose topics always have two levels always contains "/"', () => {
    never('{topic}', 'sensors/+/telemetry')
    never('{topic}', 'a/b')
    never('x.{topic}', 'a/b/#') // matches a/b at least
  })

  test('{topic} of a one-level filter, or of "x/#" (which matches "x" too), can be legal', () => {
    might('{topic}', '+')
    might('{topic}', 'telemetry')
    might('{topic}', '#')
    might('{topic}', 'sensors/#')
  })

  test('captures, {origin} and {gatewayId} can render legal names', () => {
    might('{1}', 'sensors/+/telemetry')
    might('sites.{gatewayId}.{1}', 'sensors/+/telemetry')
    might('{2}', 'sensors/+/#') // "#" may capture a single level
    might('from-{origin}', 'sensors/#')
  })

  test('a template with no placeholder is checked as the name it always is', () => {
    might('telemetry', 'sensors/#')
    never('.', 'sensors/#')
    never('..', 'sensors/#')
  })

  test('a known gateway id is part of the name: its length counts', () => {
    might('{gatewayId}', '#', 'pi-kitchen')
    never(`${'x'.repeat(240)}.{gatewayId}`, '#', 'pi-kitchen-1') // 241 + 12 characters
    might(`${'x'.repeat(240)}.{gatewayId}`, '#') // unknown: one character is enough
  })

  test('literal text over 249 characters rules out every rendering; placeholders may render empty', () => {
    never(`${'x'.repeat(250)}{1}`, 'sensors/+/telemetry')
    might(`${'x'.repeat(249)}{1}`, 'sensors/+/telemetry') // a "+" level may be empty
    never(`${'x'.repeat(249)}{1}`, 'sensors/{gatewayId}/x') // {1} is the gateway id: 1 character at least
  })

  test('a template or filter that does not parse is left to the schema', () => {
    expect(kafkaTopicTemplateProblem('{3}', 'sensors/+')).toBeUndefined()
    expect(kafkaTopicTemplateProblem('{1}', 'a/#/b')).toBeUndefined()
  })
})
