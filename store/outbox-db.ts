// The outbox's LevelDB handle. Reads run through a gate (ReadGate) so that recovery can close and reopen
// the database under them: a read waits for the reopen instead of failing on a closed handle. Open
// errors become typed OutboxErrors (locked by another process, disk full, anything else).
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { isNoSpace, OutboxError } from './errors.js'
import { ReadGate } from './read-gate.js'
import type { OutboxDatabase } from './segment-reader.js'

export class OutboxDb {
  private handle: OutboxDatabase
  private readonly gate = new ReadGate()
  private closedForGood = false

  constructor(private readonly dir: string) {
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
   * Closes and reopens the database with reads held back meanwhile; `then` runs on the reopened
   * database before reads resume. On failure reads are let through again (they fail fast: closed).
   */
  async reopen(then: () => Promise<void>): Promise<void> {
    const openGate = await this.gate.close()
    try {
      if (this.handle.status === 'open' || this.handle.status === 'opening') await this.handle.close()
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
      return fn(this.handle)
    })
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
    })
  }
}

export function closedError(): OutboxError {
  return new OutboxError('OUTPOST_OUTBOX_CLOSED', 'the outbox is closed')
}
