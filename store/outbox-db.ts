// The outbox's LevelDB handle. Reads run through a gate (ReadGate) so that recovery can close and reopen
// the database under them: a read waits for the reopen instead of failing on a closed handle. Open
// errors become typed OutboxErrors (locked by another process, disk full, anything else).
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { isNoSpace, OutboxError } from './errors.js'
import type { LevelDbOptions } from './outbox-options.js'
import { ReadGate } from './read-gate.js'
import type { OutboxDatabase } from './segment-reader.js'

export class OutboxDb {
  private handle: OutboxDatabase
  private readonly gate = new ReadGate()
  private closedForGood = false

  /** @param onDamage called when a read fails on a corrupt or unreadable file (the caller repairs) */
  constructor(
    private readonly dir: string,
    private readonly leveldb: LevelDbOptions,
    private readonly onDamage: (err: unknown) => void = () => {},
  ) {
    this.handle = this.create()
  }

  /** The current handle (writes go straight to it: only the writer writes, and never during a reopen). */
  get db(): OutboxDatabase {
    return this.handle
  }

  get isOpen(): boolean {
    return this.handle.status === 'open'
  }

  async open(): Promise<void> {
    try {
      await this.handle.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new OutboxError(
          'OUTPOST_OUTBOX_LOCKED',
          `the outbox in ${this.dir} is locked by another process (is the gateway running?)`,
          { cause: err },
        )
      }
      if (isNoSpace(err)) {
        throw new OutboxError('OUTPOST_OUTBOX_NO_SPACE', `cannot open the outbox in ${this.dir}: disk full`, {
          cause: err,
        })
      }
      throw new OutboxError(
        'OUTPOST_OUTBOX_OPEN_FAILED',
        `cannot open the outbox in ${this.dir}: ${(err as Error).message}`,
        { cause: err },
      )
    }
  }

  /**
   * Opens the database and runs `load`; when either fails on damaged files, repairs the database (once,
   * telling `repaired`) and tries again. The database is closed again when it cannot be loaded.
   */
  async openOrRepair(load: () => Promise<void>, repaired: (err: unknown) => void): Promise<void> {
    try {
      await this.open()
      await load()
    } catch (err) {
      if (!isDamage(err)) {
        await this.close().catch(() => undefined)
        throw err
      }
      repaired(err)
      await this.reopen(load, { repair: true }).catch(async (again: unknown) => {
        await this.close().catch(() => undefined)
        throw again
      })
    }
  }

  /**
   * Closes and reopens the database with reads held back meanwhile; `then` runs on the reopened
   * database before reads resume. On failure reads are let through again (they fail fast: closed).
   */
  async reopen(then: () => Promise<void>, options: { repair?: boolean } = {}): Promise<void> {
    const openGate = await this.gate.close()
    try {
      if (this.handle.status === 'open' || this.handle.status === 'opening') await this.handle.close()
      if (options.repair) await this.repair()
      this.handle = this.create()
      await this.open()
      await then()
    } finally {
      openGate()
    }
  }

  /** Runs a read against the open database (waiting out a reopen); rejects once the outbox is closed. */
  read<T>(fn: (db: OutboxDatabase) => Promise<T>): Promise<T> {
    return this.gate.run(() => {
      if (this.closedForGood || this.handle.status !== 'open') return Promise.reject(closedError())
      return fn(this.handle).catch((err: unknown) => {
        if (isDamage(err)) this.onDamage(err)
        throw err
      })
    })
  }

  /**
   * LevelDB's repair (the database must be closed): rebuilds the manifest from the files that can be
   * read; a table it cannot read goes to `lost/` with its records (the log then has a gap there).
   */
  async repair(): Promise<void> {
    await ClassicLevel.repair(join(this.dir, 'outbox'))
  }

  /** Closes the database for good (reads fail from now on). */
  async close(): Promise<void> {
    this.closedForGood = true
    if (this.handle.status === 'open') await this.handle.close()
  }

  private create(): OutboxDatabase {
    return new ClassicLevel<Buffer, Buffer>(join(this.dir, 'outbox'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: this.leveldb.cacheSize,
      writeBufferSize: this.leveldb.writeBufferSize,
      maxOpenFiles: this.leveldb.maxOpenFiles,
      maxFileSize: this.leveldb.maxFileSize,
    })
  }
}

/** A database error that a repair may cure: a corrupt or unreadable (truncated, garbled) file. */
export function isDamage(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: string }).code
    if (code === 'LEVEL_CORRUPTION' || code === 'LEVEL_IO_ERROR') return true
    if (/Corruption:/.test(e.message)) return true
  }
  return false
}

/** The innermost cause's message (LevelDB's own words: "Corruption: 1 missing files; e.g.: …"). */
export function rootMessage(err: unknown): string {
  let e: unknown = err
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 5; depth++) e = e.cause
  return e instanceof Error ? e.message : String(e)
}

export function closedError(): OutboxError {
  return new OutboxError('OUTPOST_OUTBOX_CLOSED', 'the outbox is closed')
}
