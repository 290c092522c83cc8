// The poison tracker on its own: what counts as evidence (losses with the same oldest message in flight
// and no answer in between), what never does (a loss with nothing in flight), and what clears it.
import { describe, expect, test } from 'vitest'
import { PoisonTracker } from '../../../gateway/forward/poison-tracker.js'

describe('PoisonTracker', () => {
  test('3 losses with the same oldest message: isolate it; lost again alone: dead-letter it', () => {
    const t = new PoisonTracker(3)
    expect(t.lost(7)).toBe('none')
    expect(t.lost(7)).toBe('none')
    expect(t.isolating).toBeUndefined()
    expect(t.lost(7)).toBe('isolate')
    expect(t.isolating).toBe(7)
    expect(t.lost(7)).toBe('dead-letter')
    expect(t.state).toEqual({ suspect: undefined, losses: 0, isolating: undefined })
  })

  test('an answer in between starts over', () => {
    const t = new PoisonTracker(3)
    t.lost(7)
    t.lost(7)
    t.answered()
    expect(t.lost(7)).toBe('none')
    expect(t.state).toMatchObject({ suspect: 7, losses: 1 })
  })

  test('an isolated message that is answered was innocent', () => {
    const t = new PoisonTracker(1)
    expect(t.lost(7)).toBe('isolate')
    t.answered()
    expect(t.isolating).toBeUndefined()
    expect(t.lost(8)).toBe('isolate')
  })

  test('a loss with nothing in flight (or a connection that never came up) is no evidence either way', () => {
    const t = new PoisonTracker(2)
    t.lost(7)
    expect(t.lost(undefined)).toBe('none')
    expect(t.lost(7)).toBe('isolate') // the idle loss did not break the series
    expect(t.lost(undefined)).toBe('none')
    expect(t.isolating).toBe(7) // nor the isolation
  })

  test('a different oldest message starts a new series', () => {
    const t = new PoisonTracker(2)
    t.lost(7)
    expect(t.lost(8)).toBe('none')
    expect(t.lost(8)).toBe('isolate')
  })

  test('while isolating, a loss with another message oldest (the suspect was passed) starts over', () => {
    const t = new PoisonTracker(1)
    t.lost(7)
    expect(t.lost(9)).toBe('isolate')
    expect(t.isolating).toBe(9)
  })

  test('the cursor passing the suspect clears it', () => {
    const t = new PoisonTracker(2)
    t.lost(7)
    t.passed(6)
    expect(t.state.suspect).toBe(7)
    t.passed(7)
    expect(t.state).toEqual({ suspect: undefined, losses: 0, isolating: undefined })
  })

  test('poisonAfterDisconnects 0: never', () => {
    const t = new PoisonTracker(0)
    for (let i = 0; i < 10; i++) expect(t.lost(7)).toBe('none')
  })
})
