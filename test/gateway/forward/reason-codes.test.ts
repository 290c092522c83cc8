// The classification of MQTT 5 PUBACK/PUBREC reason codes, and the README's table of it: one table in
// the code, the same rows in the docs (this test fails when they drift).
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import {
  classifyRefusal,
  disconnectMayBeAboutMessage,
  REASON_CODES,
  reasonCodeOf,
} from '../../../gateway/forward/reason-codes.js'
import { DEAD_LETTER_REASONS } from '../../../store/dead-letters.js'

describe('classifyRefusal', () => {
  test.each([
    [0x80, 'permanent', 'refused'],
    [0x83, 'permanent', 'refused'],
    [0x87, 'permanent', 'not-authorized'],
    [0x90, 'permanent', 'topic-invalid'],
    [0x99, 'permanent', 'payload-invalid'],
    [0x95, 'permanent', 'too-large'],
    [0x91, 'transient', undefined],
    [0x92, 'transient', undefined],
    [0x97, 'transient', undefined],
    [0x89, 'transient', undefined],
  ])('0x%s is %s (%s)', (code, kind, reason) => {
    const c = classifyRefusal(code, 'PUBACK')
    expect(c.class).toBe(kind)
    expect(c.class === 'permanent' ? c.reason : undefined).toBe(reason)
  })

  test('a code nobody knows is transient: retried, never dropped', () => {
    expect(classifyRefusal(0xa5, 'PUBREC')).toEqual({
      class: 'transient',
      code: 0xa5,
      text: 'PUBREC 0xa5 unknown reason code',
    })
  })

  test('the text names the packet, the code and its meaning', () => {
    expect(classifyRefusal(0x87, 'PUBREC').text).toBe('PUBREC 0x87 Not authorized')
  })

  test('every permanent row has a dead-letter reason of the store, every code is listed once', () => {
    for (const r of REASON_CODES) {
      if (r.class === 'permanent') expect(DEAD_LETTER_REASONS).toContain(r.reason)
      else expect(r.reason).toBeUndefined()
    }
    expect(new Set(REASON_CODES.map((r) => r.code)).size).toBe(REASON_CODES.length)
  })

  test('reasonCodeOf reads the code mqtt.js puts on the error, and nothing else', () => {
    const withCode = Object.assign(new Error('Publish error: Not authorized'), { code: 0x87 })
    expect(reasonCodeOf(withCode)).toBe(0x87)
    expect(reasonCodeOf(new Error('Connection closed'))).toBeUndefined()
    expect(reasonCodeOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined()
    expect(reasonCodeOf(Object.assign(new Error('x'), { code: 0x10 }))).toBeUndefined()
  })
})

describe('disconnectMayBeAboutMessage', () => {
  test('malformed, protocol error, not authorized, too large…: maybe the message in flight', () => {
    for (const code of [0x80, 0x81, 0x82, 0x83, 0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b]) {
      expect(disconnectMayBeAboutMessage(code), code.toString(16)).toBe(true)
    }
  })
  test('shutting down, taken over, busy, quota, moved…: about the server or the connection', () => {
    for (const code of [0x00, 0x89, 0x8b, 0x8d, 0x8e, 0x97, 0x98, 0x9c, 0x9d, 0xa0]) {
      expect(disconnectMayBeAboutMessage(code), code.toString(16)).toBe(false)
    }
  })
})

describe('README', () => {
  test('the table of reason codes is the code table, row for row', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    const rows = [
      ...readme.matchAll(
        /^\| `0x([0-9a-f]{2})` +\| ([^|]+?) +\| (permanent|transient) +\| (?:`([a-z-]+)`|-) +\| (yes|no) +\|$/gm,
      ),
    ]
    expect(
      rows.map((m) => ({
        code: Number.parseInt(m[1] as string, 16),
        name: m[2],
        class: m[3],
        reason: m[4],
        spec: m[5] === 'yes',
      })),
    ).toEqual(
      REASON_CODES.map((r) => ({
        code: r.code,
        name: r.name,
        class: r.class,
        reason: r.reason,
        spec: r.spec,
      })),
    )
  })
})
