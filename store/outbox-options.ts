// What opening an outbox takes. Defaults are filled in by `resolveOutboxOptions`.
import type { WhenFull } from './limits.js'
import type { BatchWriter, Durability } from './log-writer.js'

export interface OutboxLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export const silentLogger: OutboxLogger = { debug() {}, info() {}, warn() {}, error() {} }

export interface OutboxOptions {
  /** Data directory; the database lives in `<dir>/outbox`, the disk reserve in `<dir>/reserve.bin`. */
  dir: string
  durability?: Durability
  /** In batch mode: the longest time a write may wait for its fsync. */
  syncIntervalMs?: number
  /** In fsync mode: appends wait up to this long to share an fsync (commit-delay.ts). */
  commitDelayMs?: number
  maxBytes?: number
  maxMessages?: number
  maxAgeSec?: number
  whenFull?: WhenFull
  minFreeDiskBytes?: number
  reserveBytes?: number
  /** Dead letters are bounded by this many bytes (the oldest go first, counted as evicted). */
  deadLetterMaxBytes?: number
  /** Compact the deleted range once this many bytes were deleted since the last compaction. */
  compactAfterBytes?: number
  /** …and at most this often. */
  compactMinIntervalMs?: number
  logger?: OutboxLogger
  now?: () => number
  /** The LevelDB batch write (a seam for tests). */
  writeBatch?: BatchWriter
}

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}
