// The outbox's lifecycle state machine (store/lifecycle.ts): what each state refuses, allows and becomes.
import { describe, expect, test } from 'vitest'
import { OutboxError } from '../../store/errors.js'
import { Lifecycle } from '../../store/lifecycle.js'

const failure = () => new OutboxError('OUTPOST_OUTBOX_WRITE_FAILED', 'disk said no')

describe('lifecycle', () => {
  test('open: writable, refuses nothing, not failed', () => {
    const l = new Lifecycle()
    expect([l.phase, l.writable, l.failed, l.refusal()]).toEqual(['open', true, false, undefined])
  })

  test('a failed write: recovering refuses appends with that failure until recovered', () => {
    const l = new Lifecycle()
    const err = failure()
    expect(l.writeFailed(err)).toBe(true) // start a recovery
    expect([l.phase, l.writable, l.failed, l.refusal()]).toEqual(['recovering', false, true, err])
    l.recovered()
    expect([l.phase, l.writable, l.failed, l.refusal()]).toEqual(['open', true, false, undefined])
  })

  test('closing a healthy outbox: writable until sealed, refuses appends as closed', () => {
    const l = new Lifecycle()
    expect(l.close()).toBe(true)
    expect([l.phase, l.writable, l.failed, l.refusal()?.code]).toEqual([
      'closing',
      true,
      false,
      'OUTPOST_OUTBOX_CLOSED',
    ])
    l.seal()
    expect([l.writable, l.failed]).toEqual([false, false])
    l.closed()
    expect([l.phase, l.writable]).toEqual(['closed', false])
  })

  test('closing while recovering: unwritable and failed, until a recovery still finishes', () => {
    const l = new Lifecycle()
    l.writeFailed(failure())
    expect(l.close()).toBe(false)
    expect([l.writable, l.failed]).toEqual([false, true])
    l.recovered()
    expect([l.phase, l.writable, l.failed]).toEqual(['closing', true, false])
  })

  test('a write failing while closing starts no recovery', () => {
    const l = new Lifecycle()
    l.close()
    expect(l.writeFailed(failure())).toBe(false)
    expect([l.phase, l.writable, l.failed]).toEqual(['closing', false, true])
    l.closed()
    expect(l.writeFailed(failure())).toBe(false)
    expect(l.phase).toBe('closed')
  })
})
