// The outbox's lifecycle as one state machine:
//
//   open ──write fails──► recovering ──reopened──► open
//     │                       │
//     └──────close()──────────┴──► closing ──► closed
//
// `closing` remembers whether the database is healthy (`writable`): then what is pending is written
// before it closes, and then it is sealed (no write starts). A recovery that reopens the database while
// closing makes it writable again; a write that fails while closing makes it unwritable (no recovery is
// started: the outbox is going).
import type { OutboxError } from './errors.js'
import { closedError } from './outbox-db.js'

type State =
  | { phase: 'open' }
  | { phase: 'recovering'; failure: OutboxError }
  | { phase: 'closing'; writable: boolean; failed: boolean }
  | { phase: 'closed' }

export class Lifecycle {
  private state: State = { phase: 'open' }

  get phase(): State['phase'] {
    return this.state.phase
  }

  /** Why an append is refused now (closed, or the write error being recovered from), if it is. */
  refusal(): OutboxError | undefined {
    const s = this.state
    if (s.phase === 'closing' || s.phase === 'closed') return closedError()
    return s.phase === 'recovering' ? s.failure : undefined
  }

  /** Writes may run: open, or closing with a healthy database. */
  get writable(): boolean {
    const s = this.state
    return s.phase === 'open' || (s.phase === 'closing' && s.writable)
  }

  /** A write failed and the database has not been reopened since. */
  get failed(): boolean {
    const s = this.state
    return s.phase === 'recovering' || (s.phase === 'closing' && s.failed)
  }

  /** Whether a recovery has to start for this failure (not while closing). */
  writeFailed(failure: OutboxError): boolean {
    if (this.state.phase === 'closed') return false
    if (this.state.phase === 'closing') {
      this.state = { phase: 'closing', writable: false, failed: true }
      return false
    }
    this.state = { phase: 'recovering', failure }
    return true
  }

  recovered(): void {
    if (this.state.phase === 'recovering') this.state = { phase: 'open' }
    else if (this.state.phase === 'closing') this.state = { phase: 'closing', writable: true, failed: false }
  }

  /** Starts closing; returns whether the database was healthy. */
  close(): boolean {
    const healthy = this.state.phase === 'open'
    this.state = { phase: 'closing', writable: healthy, failed: !healthy }
    return healthy
  }

  /** Closing: no more writes (the last ones are done). */
  seal(): void {
    if (this.state.phase === 'closing') this.state = { ...this.state, writable: false }
  }

  closed(): void {
    this.state = { phase: 'closed' }
  }
}
