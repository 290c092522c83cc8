// The topic character rules: on raw bytes (streamed one byte at a time, as a topic crossing socket
// reads is), on decoded strings, and for Kafka topic names.
import { describe, expect, test } from 'vitest'
import {
  kafkaTopicProblem,
  mqttTopicProblem,
  textProblem,
  Utf8TopicChecker,
  utf8BytesProblem,
} from '../../config/topic-chars.js'
import { TOPIC_BYTE_CASES } from '../fixtures/topic-byte-cases.js'

describe('topic bytes', () => {
  test.each(TOPIC_BYTE_CASES)('$name: ok = $ok', ({ bytes, ok }) => {
    expect(utf8BytesProblem(Uint8Array.from(bytes)) === undefined).toBe(ok)
  })

  test('one checker reused across topics starts clean after end()', () => {
    const checker = new Utf8TopicChecker()
    expect(checker.feed(0xe2)).toBeUndefined()
    expect(checker.end()).toMatch(/truncated/)
    for (const b of Buffer.from('a/é')) expect(checker.feed(b)).toBeUndefined()
    expect(checker.end()).toBeUndefined()
  })

  test('a well-formed topic decodes and re-encodes to the same bytes (what is forwarded is what came in)', () => {
    for (const c of TOPIC_BYTE_CASES.filter((x) => x.ok)) {
      const buf = Buffer.from(c.bytes)
      expect(Buffer.from(buf.toString('utf8'))).toEqual(buf)
    }
  })
})

describe('decoded strings', () => {
  test('the same characters are refused as on the wire', () => {
    for (const c of TOPIC_BYTE_CASES) {
      const buf = Buffer.from(c.bytes)
      const text = buf.toString('utf8')
      // Ill-formed bytes decode to U+FFFD, which is a valid character: only the raw check sees them.
      if (Buffer.from(text).equals(buf)) expect(textProblem(text) === undefined, c.name).toBe(c.ok)
    }
  })

  test('a lone surrogate (a JavaScript string that is not UTF-16) is refused', () => {
    expect(textProblem('a\ud800b')).toMatch(/surrogate/)
    expect(textProblem('a\udc00')).toMatch(/surrogate/)
    expect(textProblem('a\u{1F600}')).toBeUndefined()
  })

  test('an MQTT topic name: not empty, no wildcard, at most 65,535 bytes', () => {
    expect(mqttTopicProblem('devices/dev-2/t')).toBeUndefined()
    expect(mqttTopicProblem('')).toMatch(/empty/)
    expect(mqttTopicProblem('devices/dev+1#/t')).toMatch(/wildcard/)
    expect(mqttTopicProblem('x'.repeat(65535))).toBeUndefined()
    expect(mqttTopicProblem('x'.repeat(65536))).toMatch(/65535/)
    expect(mqttTopicProblem('é'.repeat(32768))).toMatch(/65535/) // 65,536 bytes in 32,768 characters
    expect(mqttTopicProblem('a/\u0000')).toMatch(/NUL/)
  })
})

describe('Kafka topic names', () => {
  test.each([
    ['telemetry', true],
    ['site-1.readings_v2', true],
    ['x'.repeat(249), true],
    ['x'.repeat(250), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['...', true],
    ['sites/pi/telemetry', false],
    ['with space', false],
    ['umlaut-ä', false],
  ])('%s: ok = %s', (topic, ok) => {
    expect(kafkaTopicProblem(topic) === undefined).toBe(ok)
  })
})
