// What the gateway holds of each upstream: a forwarder, whatever the upstream speaks (MQTT, Kafka). Every
// forwarder reads the outbox from its own cursor, sends in order, and moves the cursor over the
// contiguous settled prefix only (acknowledged, not routed to it, or dead-lettered once the dead letter
// is written); test/gateway/forward/forwarder-contract.ts is the suite every implementation passes.
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'

/** What every forwarder's status says (an implementation adds its own fields). */
export interface UpstreamStatus {
  name: string
  type: 'mqtt' | 'kafka'
  /** connected, connecting, backoff, stalled (no acknowledgement within ackTimeoutMs), idle, stopped… */
  state: string
  /** Last record this upstream is done with (the cursor). */
  position: number
  inflight: number
  sent: number
  acked: number
  /** Records not routed to this upstream, passed over. */
  skipped: number
  /** Records dead-lettered for this upstream since the outbox was created, by reason. */
  deadLetters: Partial<Record<DeadLetterReason, number>>
  /** When the upstream stalled (ISO 8601), while it is stalled. */
  stalledSince: string | undefined
  lastError: string | undefined
}

export interface Forwarder {
  readonly name: string
  /** Starts forwarding from the upstream's cursor. Idempotent. */
  start(): void
  /** Waits until everything appended so far is settled, the upstream is unreachable, or `timeoutMs` passes. */
  drain(timeoutMs: number): Promise<boolean>
  /**
   * Stops: the connection is closed (settled progress is committed already). Resolves within
   * `deadlineMs` whatever the upstream does. Idempotent.
   */
  stop(deadlineMs?: number): Promise<void>
  status(): UpstreamStatus
}

/** Resolves when `work` does, or after `ms` at the latest (a stop never hangs on an upstream). */
export function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** Dead letters of upstream `name` since the outbox was created, by reason (for its status). */
export function deadLettersOf(outbox: Outbox, name: string): Partial<Record<DeadLetterReason, number>> {
  const out: Partial<Record<DeadLetterReason, number>> = {}
  for (const t of outbox.deadLetters.stats().totals) if (t.upstream === name) out[t.reason] = t.count
  return out
}

/** A forwarder's position (its cursor in memory) and whoever waits for it to get somewhere (drain). */
export class Progress {
  private readonly waiters = new Set<() => void>()

  constructor(public position: number) {}

  /** Moves the position forward to `seq`; returns whether it moved. */
  advance(seq: number): boolean {
    if (seq <= this.position) return false
    this.position = seq
    for (const w of this.waiters) w()
    return true
  }

  /** Resolves true once the position reaches `target`; false when `going()` turns false or `timeoutMs` passes. */
  async reach(target: number, timeoutMs: number, going: () => boolean): Promise<boolean> {
    const deadline = performance.now() + timeoutMs
    while (this.position < target && going()) {
      const left = deadline - performance.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const waiters = this.waiters
        const t = setTimeout(done, Math.min(left, 100)) // and look at going() again
        function done() {
          clearTimeout(t)
          waiters.delete(done)
          resolve()
        }
        waiters.add(done)
      })
    }
    return this.position >= target
  }
}
