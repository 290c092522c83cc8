// Waits that end before the test does. A wait whose budget reaches the test's timeout loses the race
// to vitest, and the run says only "Test timed out" instead of what the wait was waiting for (issue #12:
// three such 60 s timeouts, no diagnostic). A test takes a Deadline from its own timeout and gives each
// wait at most what is left of it, less a reserve for the assertions and cleanup that follow.
import type { TestContext } from 'vitest'

export interface Deadline {
  /** Milliseconds left for a wait (at most `capMs`); 0 once the deadline has passed. */
  left(capMs?: number): number
}

/** The test's timeout (from its context) less `reserveMs`, counted from now. */
export function deadline(ctx: TestContext, reserveMs = 5_000): Deadline {
  const end = performance.now() + ctx.task.timeout - reserveMs
  return {
    left: (capMs = Number.POSITIVE_INFINITY) =>
      Math.max(0, Math.floor(Math.min(capMs, end - performance.now()))),
  }
}
