// Compiled topic filters (MQTT matching rules plus {gatewayId} levels, with captures) and templates.
import { describe, expect, test } from 'vitest'
import { compileFilter, compileTemplate } from '../../gateway/topic-match.js'

const GW = 'gw1'

/** [filter, topic, captures or undefined when it must not match] */
const CASES: [string, string, string[] | undefined][] = [
  // literal levels
  ['a/b', 'a/b', []],
  ['a/b', 'a/c', undefined],
  ['a/b', 'a/b/c', undefined],
  ['a/b', 'a', undefined],
  ['a/b', 'a/b/', undefined],
  ['/a', '/a', []],
  ['/a', 'a', undefined],
  // '+' is exactly one level, which may be empty [MQTT-4.7.1-3]
  ['a/+/c', 'a/b/c', ['b']],
  ['a/+/c', 'a//c', ['']],
  ['a/+/c', 'a/b/x/c', undefined],
  ['a/+', 'a', undefined],
  ['a/+', 'a/', ['']],
  ['+', 'a', ['a']],
  ['+', '', ['']],
  ['+', 'a/b', undefined],
  ['+/+', '/x', ['', 'x']],
  ['sensors/+/telemetry', 'sensors/s1/telemetry', ['s1']],
  ['sensors/+/telemetry', 'sensors/s1/alarm', undefined],
  // '#' is the rest, including the parent level [MQTT-4.7.1-2]
  ['a/#', 'a', ['']],
  ['a/#', 'a/', ['']],
  ['a/#', 'a/b', ['b']],
  ['a/#', 'a/b/c/d', ['b/c/d']],
  ['a/#', 'b/a', undefined],
  ['a/#', 'ab', undefined],
  ['#', 'a/b/c', ['a/b/c']],
  ['#', '/', ['/']],
  ['a/+/#', 'a/b', ['b', '']],
  ['a/+/#', 'a/b/c/d', ['b', 'c/d']],
  ['a/+/#', 'a', undefined],
  // '$' topics are not matched by a leading wildcard [MQTT-4.7.2-1], only by a literal first level
  ['#', '$SYS/broker/uptime', undefined],
  ['+/broker/uptime', '$SYS/broker/uptime', undefined],
  ['+', '$x', undefined],
  ['$SYS/#', '$SYS/broker/uptime', ['broker/uptime']],
  ['$SYS/+/uptime', '$SYS/broker/uptime', ['broker']],
  ['a/#', 'a/$b', ['$b']],
  // {gatewayId} is a literal level that is also a capture
  ['commands/{gatewayId}/#', 'commands/gw1/valve/open', ['gw1', 'valve/open']],
  ['commands/{gatewayId}/#', 'commands/gw1', ['gw1', '']],
  ['commands/{gatewayId}/#', 'commands/gw2/valve/open', undefined],
  ['commands/{gatewayId}/#', 'commands/+/valve', undefined],
  ['+/{gatewayId}/+', 'x/gw1/y', ['x', 'gw1', 'y']],
  ['{gatewayId}', 'gw1', ['gw1']],
  ['{gatewayId}', 'gw1/x', undefined],
]

describe('compileFilter', () => {
  test.each(CASES)('%j against %j → %j', (filter, topic, captures) => {
    expect(compileFilter(filter, GW)(topic)).toEqual(captures)
  })

  test('an invalid filter is refused when compiled', () => {
    expect(() => compileFilter('a/#/b', GW)).toThrow(/invalid topic filter "a\/#\/b"/)
    expect(() => compileFilter('a/b+', GW)).toThrow(/whole level/)
    expect(() => compileFilter('', GW)).toThrow(/empty/)
  })

  test('a compiled matcher can be reused for many topics', () => {
    const match = compileFilter('sensors/+/telemetry', GW)
    const matched = ['sensors/a/telemetry', 'x', 'sensors/b/telemetry', 'sensors/c/d/telemetry'].map(match)
    expect(matched).toEqual([['a'], undefined, ['b'], undefined])
  })
})

describe('compileTemplate', () => {
  const ctx = { topic: 'sensors/s1/telemetry', origin: 'client-7', captures: ['s1'] }

  test('{topic} alone is the topic itself', () => {
    expect(compileTemplate('{topic}', 0, GW)(ctx)).toBe('sensors/s1/telemetry')
  })

  test('{topic}, {gatewayId}, {origin} and {N} are replaced, text kept', () => {
    expect(compileTemplate('sites/{gatewayId}/{topic}', 1, GW)(ctx)).toBe('sites/gw1/sensors/s1/telemetry')
    expect(compileTemplate('by-origin/{origin}/{1}', 1, GW)(ctx)).toBe('by-origin/client-7/s1')
    expect(compileTemplate('{1}-{1}', 1, GW)(ctx)).toBe('s1-s1')
    expect(compileTemplate('constant', 1, GW)(ctx)).toBe('constant')
    expect(compileTemplate('{gatewayId}', 0, 'other-gw')(ctx)).toBe('other-gw')
  })

  test('the downlink example: commands/{gatewayId}/# with cmd/{2}', () => {
    const match = compileFilter('commands/{gatewayId}/#', GW)
    const render = compileTemplate('cmd/{2}', 2, GW)
    const captures = match('commands/gw1/valve/open')
    expect(captures).toEqual(['gw1', 'valve/open'])
    expect(render({ topic: 'commands/gw1/valve/open', origin: 'cloud', captures: captures ?? [] })).toBe(
      'cmd/valve/open',
    )
    expect(compileTemplate('cmd/{1}/{2}', 2, GW)({ topic: '', origin: '', captures: ['gw1', 'x/y'] })).toBe(
      'cmd/gw1/x/y',
    )
  })

  test('a key template may contain wildcard characters, a topic template may not', () => {
    expect(compileTemplate('{1}#{origin}', 1, GW, 'key')(ctx)).toBe('s1#client-7')
    expect(() => compileTemplate('{1}#{origin}', 1, GW)).toThrow(/wildcards/)
  })

  test('a placeholder beyond the captures is refused when compiled', () => {
    expect(() => compileTemplate('cmd/{2}', 1, GW)).toThrow(/invalid template "cmd\/\{2\}"/)
    expect(() => compileTemplate('{nope}', 1, GW)).toThrow(/unknown placeholder/)
  })
})
