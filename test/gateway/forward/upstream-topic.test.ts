// What the forwarder will not put on the wire as an upstream topic (or a user property value): the
// MQTT UTF-8 string rules, strictly, plus the PUBLISH topic rules — each with the reason it reports.
import { describe, expect, test } from 'vitest'
import { mqttStringProblem, upstreamTopicProblem } from '../../../gateway/forward/upstream-topic.js'

describe('upstreamTopicProblem', () => {
  test.each([
    'sensors/dev-1/telemetry',
    'a',
    '/',
    '//',
    '$share-like/but/not',
    'sites/pi-kitchen/température',
    'emoji/🌡️/°C',
    'cjk/温度',
    '\u00a0nbsp/after-C1',
    'edge/\ud7ff/\ue000/\ufffd', // just outside the surrogates; U+FFFD itself is a character
    `${'x'.repeat(65_535)}`,
    `${'é'.repeat(32_767)}x`, // 65,535 bytes
  ])('legal: %j', (topic) => {
    expect(upstreamTopicProblem(topic)).toBeUndefined()
  })

  test.each([
    ['', /^empty topic$/],
    ['a/+/b', /wildcard "\+" at character 2/],
    ['devices/dev+1#/t', /wildcard "\+" at character 11/],
    ['a/#', /wildcard "#" at character 2/],
    ['#', /wildcard "#"/],
    ['a/\u0000/b', /NUL U\+0000 at character 2/],
    ['a\u0001', /control character U\+0001/],
    ['tab\there', /control character U\+0009/],
    ['a\u001f', /control character U\+001F/],
    ['del\u007f', /control character U\+007F/],
    ['c1\u0085', /control character U\+0085/],
    ['c1\u009f', /control character U\+009F/],
    ['lone\ud800', /lone surrogate U\+D800/],
    ['lone\ud800x', /lone surrogate U\+D800/],
    ['low\udc00first', /lone surrogate U\+DC00/],
    ['nc\ufdd0', /noncharacter U\+FDD0/],
    ['nc\ufdef', /noncharacter U\+FDEF/],
    ['nc\ufffe', /noncharacter U\+FFFE/],
    ['nc\uffff', /noncharacter U\+FFFF/],
    ['nc\u{1fffe}', /noncharacter U\+1FFFE/],
    ['nc\u{10ffff}', /noncharacter U\+10FFFF/],
    ['x'.repeat(65_536), /65536 bytes of UTF-8 \(at most 65,535\)/],
    ['é'.repeat(32_768), /65536 bytes/],
  ])('illegal: %j', (topic, why) => {
    expect(upstreamTopicProblem(topic)).toMatch(why)
  })

  test('the reason quotes the topic escaped, and cut short', () => {
    expect(upstreamTopicProblem('a/\u0000/b')).toBe('topic "a/\\u0000/b": NUL U+0000 at character 2')
    const long = upstreamTopicProblem(`${'y'.repeat(300)}#`) as string
    expect(long).toContain(`"${'y'.repeat(200)}…"`)
    expect(long).toMatch(/wildcard "#" at character 300$/)
  })
})

describe('mqttStringProblem (user property values: the string rules, no topic rules)', () => {
  test('wildcards and empty strings are fine in a property value', () => {
    expect(mqttStringProblem('dev+1#')).toBeUndefined()
    expect(mqttStringProblem('')).toBeUndefined()
  })

  test('NUL, controls, noncharacters and lone surrogates are not', () => {
    expect(mqttStringProblem('a\u0000')).toMatch(/U\+0000/)
    expect(mqttStringProblem('a\u0007')).toMatch(/U\+0007/)
    expect(mqttStringProblem('a\uffff')).toMatch(/noncharacter/)
    expect(mqttStringProblem('a\udfff')).toMatch(/lone surrogate/)
  })
})
