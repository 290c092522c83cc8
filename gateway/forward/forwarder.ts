// What the gateway holds of each upstream: a forwarder, whatever the upstream speaks (MQTT, Kafka). Every
// forwarder reads the outbox from its own cursor, sends in order, and moves the cursor over the
// contiguous settled prefix only (acknowledged, not routed to it, or dead-lettered once the dead letter
// is written); test/gateway/forward/forwarder-contract.ts is the suite every implementation passes.
import type { DeadLetterReason } from '../../store/dead-letters.js'

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
