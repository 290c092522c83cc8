// The outbox's periodic work: in batch mode, an fsync at most syncIntervalMs after an unsynced write;
// with maxAgeSec, an expiry pass four times per maxAgeSec (between 100 ms and 1 min apart). Both only
// ask the writer: the work rides in its next batch.
import type { Durability } from './log-writer.js'

export interface HousekeepingOptions {
  durability: Durability
  syncIntervalMs: number
  maxAgeSec: number | undefined
  /** Something acknowledged is not fsync'd yet, and the outbox is open. */
  syncDue(): boolean
  requestSync(): void
  requestExpiry(): void
  /** Wakes the writer. */
  kick(): void
}

/** Starts the timers (unref'd: they never keep the process alive); clear them with clearInterval. */
export function startHousekeeping(o: HousekeepingOptions): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = []
  const every = (ms: number, fn: () => void) => {
    const t = setInterval(fn, ms)
    t.unref()
    timers.push(t)
  }
  if (o.durability === 'batch') {
    every(o.syncIntervalMs, () => {
      if (!o.syncDue()) return
      o.requestSync()
      o.kick()
    })
  }
  if (o.maxAgeSec !== undefined) {
    every(Math.max(100, Math.min(60_000, (o.maxAgeSec * 1000) / 4)), () => {
      o.requestExpiry()
      o.kick()
    })
  }
  return timers
}
