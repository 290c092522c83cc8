// What opening an outbox takes, and the store's defaults. The gateway passes every option from its
// config (config/schema.ts is where a user's defaults live); these apply to the store used on its own —
// tests, benchmarks, the CLI — and test/store/outbox-options.test.ts holds them equal to the schema's.
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
  /** LevelDB's own memory: its block cache, its memtable, its open table files. */
  leveldb?: Partial<LevelDbOptions>
  logger?: OutboxLogger
  now?: () => number
  /** The LevelDB batch write (a seam for tests). */
  writeBatch?: BatchWriter
}

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

export interface LevelDbOptions {
  /** The block cache (uncompressed blocks read recently), bytes. */
  cacheSize: number
  /** The memtable: what is written before it goes to a table file, bytes (held twice while flushing). */
  writeBufferSize: number
  /**
   * Table files kept open (LevelDB's minimum is 74). On 64-bit systems LevelDB maps each open table
   * into memory: the pages a read touched count in RSS until the table is closed, so this times
   * maxFileSize bounds that part of RSS (clean file pages the kernel can reclaim, but counted).
   */
  maxOpenFiles: number
  /** Size of a table file, bytes. */
  maxFileSize: number
}

export const OUTBOX_DEFAULTS = {
  durability: 'fsync' as Durability,
  syncIntervalMs: 100,
  commitDelayMs: 0,
  maxBytes: 2 ** 30,
  whenFull: 'reject' as WhenFull,
  minFreeDiskBytes: 64 * 2 ** 20,
  reserveBytes: 8 * 2 ** 20,
  deadLetterMaxBytes: 64 * 2 ** 20,
  compactMinIntervalMs: 60_000,
  // Sized for a small Pi (README "Memory"); classic-level's own: 8 MiB, 4 MiB, 1000, 2 MiB.
  leveldb: {
    cacheSize: 2 * 2 ** 20,
    writeBufferSize: 2 * 2 ** 20,
    maxOpenFiles: 74,
    maxFileSize: 256 * 1024,
  } as LevelDbOptions,
}

export type ResolvedOutboxOptions = Required<
  Omit<OutboxOptions, 'maxMessages' | 'maxAgeSec' | 'writeBatch' | 'leveldb'>
> &
  Pick<OutboxOptions, 'maxMessages' | 'maxAgeSec' | 'writeBatch'> & { leveldb: LevelDbOptions }

/** `options` with the store's defaults filled in. */
export function resolveOutboxOptions(options: OutboxOptions): ResolvedOutboxOptions {
  const d = OUTBOX_DEFAULTS
  const maxBytes = options.maxBytes ?? d.maxBytes
  return {
    ...options,
    durability: options.durability ?? d.durability,
    syncIntervalMs: options.syncIntervalMs ?? d.syncIntervalMs,
    commitDelayMs: options.commitDelayMs ?? d.commitDelayMs,
    maxBytes,
    whenFull: options.whenFull ?? d.whenFull,
    minFreeDiskBytes: options.minFreeDiskBytes ?? d.minFreeDiskBytes,
    reserveBytes: options.reserveBytes ?? d.reserveBytes,
    deadLetterMaxBytes: options.deadLetterMaxBytes ?? d.deadLetterMaxBytes,
    // A sixteenth of the bound, between 1 and 64 MiB.
    compactAfterBytes: options.compactAfterBytes ?? Math.min(64 * 2 ** 20, Math.max(2 ** 20, maxBytes / 16)),
    compactMinIntervalMs: options.compactMinIntervalMs ?? d.compactMinIntervalMs,
    leveldb: { ...d.leveldb, ...options.leveldb },
    logger: options.logger ?? silentLogger,
    now: options.now ?? Date.now,
  }
}
