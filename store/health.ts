// What a failed write or a damaged file does to the outbox. A failed write refuses the appends of its
// batch (and those queued behind it) and starts a recovery: close + reopen with backoff (recovery.ts),
// with LevelDB's repair first when the files are damaged. A read failing on a damaged file does the
// same: repair, instead of failing for ever. Opening repairs a database that cannot be opened or read.
import type { Damage } from './damage.js'
import type { DiskGuard } from './disk-guard.js'
import { type OutboxError, writeFailure } from './errors.js'
import type { PendingAppend } from './group-commit.js'
import type { Lifecycle } from './lifecycle.js'
import { isDamage, type OutboxDb, rootMessage } from './outbox-db.js'
import type { OutboxLogger } from './outbox-options.js'
import type { OutboxCounters } from './outbox-state.js'
import { Recovery } from './recovery.js'

export interface HealthOptions {
  dir: string
  db: OutboxDb
  disk: DiskGuard
  log: OutboxLogger
  life: Lifecycle
  damage: Damage
  counters: OutboxCounters
  /** Reads the state from the (re)opened database. */
  load(): Promise<void>
  /** Refuses `taken` and every append queued behind it with `err`; returns how many records they held. */
  refuseAll(taken: PendingAppend[], err: OutboxError): number
  /** Wakes the writer. */
  kick(): void
  lastSeq(): number
}

export class Health {
  private readonly recovery: Recovery

  constructor(private readonly o: HealthOptions) {
    this.recovery = new Recovery({
      dir: o.dir,
      disk: o.disk,
      log: o.log,
      db: o.db,
      load: async () => {
        await o.load()
        await o.disk.refresh()
      },
      repairing: () => o.damage.repairs++,
      recovered: (attempts) => {
        o.life.recovered()
        o.log.info({ attempt: attempts, lastSeq: o.lastSeq() }, 'outbox recovered')
        void o.disk.ensureReserve().catch(() => undefined)
        o.kick()
      },
    })
  }

  /** Opens the database and loads the state; a database that cannot be opened or read is repaired once. */
  open(): Promise<void> {
    return this.o.db.openOrRepair(this.o.load, (err) => {
      this.o.damage.found(`the database could not be opened or read (${rootMessage(err)}): repaired`)
      this.o.damage.repairs++
    })
  }

  /** A batch failed: nothing of it was adopted. Its cursor moves stay pending for after the recovery. */
  writeFailed(err: unknown, taken: PendingAppend[]): void {
    const failure = writeFailure(err)
    this.o.counters.writeFailed += this.o.refuseAll(taken, failure)
    this.o.log.error({ err, code: failure.code }, 'outbox write failed; recovering')
    if (this.o.life.writeFailed(failure))
      this.recovery.start({ noSpace: failure.code === 'OUTPOST_OUTBOX_NO_SPACE', repair: isDamage(err) })
  }

  /** A read failed: on a damaged file, repair the database (appends wait meanwhile). */
  readFailed(err: unknown): void {
    if (!isDamage(err) || !this.o.life.writeFailed(writeFailure(err))) return
    this.o.damage.found(`a read failed (${rootMessage(err)}): repairing the database`)
    this.recovery.start({ noSpace: false, repair: true })
  }

  /** Stops recovering; resolves once an attempt in progress is over. */
  stop(): Promise<void> {
    return this.recovery.stop()
  }
}
