// The outbox's bounds: maxBytes, maxMessages and free disk space for every append (checked
// synchronously: this runs for every append), what whenFull: drop-oldest must evict to make room, and
// which records maxAgeSec expires. Refusals are counted by the limit that refused them.
import type { DiskGuard } from './disk-guard.js'
import { type FullReason, OutboxError } from './errors.js'
import type { LogState, OutboxCounters } from './outbox-state.js'

export type WhenFull = 'reject' | 'drop-oldest'

export interface LimitOptions {
  maxBytes: number
  maxMessages: number | undefined
  maxAgeSec: number | undefined
  whenFull: WhenFull
  minFreeDiskBytes: number
}

/** What an append asks of the limits: how many records, how many log bytes. */
export interface AppendSize {
  count: number
  bytes: number
}

/** The verdict for an append under drop-oldest when it does not fit: make room first. */
export const EVICT = Symbol('evict')

/** Expiry looks at this many records a pass (a pass runs again at once if they all expired). */
export const EXPIRY_CHUNK = 100_000

export class Limits {
  constructor(
    private readonly opts: LimitOptions,
    private readonly disk: DiskGuard,
    private readonly counters: OutboxCounters,
  ) {}

  get maxBytes(): number {
    return this.opts.maxBytes
  }

  get maxMessages(): number | undefined {
    return this.opts.maxMessages
  }

  get maxAgeSec(): number | undefined {
    return this.opts.maxAgeSec
  }

  /**
   * Checks one append against the limits in the working state `s`. Returns undefined when it fits, the
   * error to refuse it with, or EVICT when drop-oldest must make room.
   */
  check(a: AppendSize, s: LogState): OutboxError | typeof EVICT | undefined {
    const n = a.count
    const { maxBytes, maxMessages, whenFull } = this.opts
    if (a.bytes > maxBytes || (maxMessages !== undefined && n > maxMessages)) {
      this.counters.rejectedBytes += n
      return new OutboxError(
        'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
        `append of ${n} record(s), ${a.bytes} bytes, exceeds the outbox limits (maxBytes ${maxBytes})`,
      )
    }
    if (this.disk.wouldRunLow(a.bytes)) {
      this.counters.rejectedDisk += n
      return this.fullError('disk', n)
    }
    const overMessages = maxMessages !== undefined && s.lastSeq - s.firstSeq + 1 + n > maxMessages
    const overBytes = s.endOffset - s.firstOffset + a.bytes > maxBytes
    if (!overMessages && !overBytes) return undefined
    if (whenFull === 'drop-oldest') return EVICT
    if (overBytes) this.counters.rejectedBytes += n
    else this.counters.rejectedMessages += n
    return this.fullError(overBytes ? 'bytes' : 'messages', n)
  }

  /**
   * drop-oldest: the lowest sequence number to keep so that `a` fits — the fewest oldest records go.
   * `firstWithOffsetAtLeast` finds the first record at or beyond a log offset (a binary search).
   */
  async keepFrom(
    a: AppendSize,
    s: LogState,
    firstWithOffsetAtLeast: (offset: number) => Promise<number>,
  ): Promise<number> {
    const { maxBytes, maxMessages } = this.opts
    let k = s.firstSeq
    if (maxMessages !== undefined) k = Math.max(k, s.lastSeq + a.count - maxMessages + 1)
    if (s.endOffset - s.firstOffset + a.bytes > maxBytes) {
      k = Math.max(k, await firstWithOffsetAtLeast(s.endOffset + a.bytes - maxBytes))
    }
    return k
  }

  /** Records older than this (ms since the epoch) expire; undefined without maxAgeSec. */
  expiryCutoff(now: number): number | undefined {
    return this.opts.maxAgeSec === undefined ? undefined : now - this.opts.maxAgeSec * 1000
  }

  fullError(reason: FullReason, n: number): OutboxError {
    const what =
      reason === 'disk'
        ? `free disk space is below minFreeDiskBytes (${this.opts.minFreeDiskBytes})`
        : reason === 'bytes'
          ? `maxBytes (${this.opts.maxBytes}) reached`
          : `maxMessages (${this.opts.maxMessages}) reached`
    return new OutboxError('OUTPOST_OUTBOX_FULL', `outbox full: ${what}; ${n} record(s) refused`, { reason })
  }
}
