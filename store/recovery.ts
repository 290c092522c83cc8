// Recovery after a failed write. LevelDB keeps a write error sticky until the database is reopened, so
// recovery is close + reopen, retried with backoff (100 ms doubling to 5 s) until it works or the outbox
// closes. On a full disk the reserve file is released first, and the database stays open (readable:
// forwarders keep draining) until there is room to reopen it: reopening replays the write-ahead log
// into a table file, which needs about the log's size.
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DiskGuard } from './disk-guard.js'
import { isDamage, type OutboxDb } from './outbox-db.js'
import { dirBytes } from './outbox-state.js'

export interface RecoveryLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface RecoveryOptions {
  /** The outbox's data dir (the database is in `<dir>/outbox`). */
  dir: string
  disk: DiskGuard
  log: RecoveryLogger
  db: OutboxDb
  /** Reloads the state once the database is open again. */
  load(): Promise<void>
  /** A repair runs (counted). */
  repairing(): void
  /** The database is open again (after `attempts` attempts). */
  recovered(attempts: number): void
}

/** One recovery at a time, stopped (and waited for) when the outbox closes. */
export class Recovery {
  private running: Promise<void> | undefined
  private readonly abort = new AbortController()

  constructor(private readonly opts: RecoveryOptions) {}

  /**
   * Starts recovering (unless already): `noSpace`, the write failed for lack of disk space; `repair`,
   * the files are damaged (LevelDB's repair runs before the reopen).
   */
  start(cause: { noSpace: boolean; repair: boolean }): void {
    if (this.running || this.abort.signal.aborted) return
    this.running = recover({ ...this.opts, ...cause, signal: this.abort.signal })
      .then((attempts) => {
        if (attempts > 0) this.opts.recovered(attempts)
      })
      .finally(() => {
        this.running = undefined
      })
  }

  /** Stops retrying; resolves once the attempt in progress (if any) is over. */
  async stop(): Promise<void> {
    this.abort.abort()
    await this.running
  }
}

interface RecoverOptions extends Omit<RecoveryOptions, 'recovered'> {
  noSpace: boolean
  repair: boolean
  signal: AbortSignal
}

/** Retries `reopen` until it succeeds (resolves with the attempts it took) or `signal` aborts (0). */
async function recover(o: RecoverOptions): Promise<number> {
  let delay = 100
  let repair = o.repair
  const pause = async () => {
    await sleep(delay, undefined, { signal: o.signal }).catch(() => undefined) // aborted: stop waiting
    delay = Math.min(delay * 2, 5_000)
  }
  for (let attempt = 1; !o.signal.aborted; attempt++) {
    if (o.noSpace) {
      const freed = await o.disk.releaseReserve()
      if (freed > 0) o.log.warn({ freed }, 'disk full: released the reserve file so the outbox can recover')
      await o.disk.refresh()
      const need = (await dirBytes(join(o.dir, 'outbox'), '.log')) * 1.1 + 256 * 1024
      if (o.disk.free < need) {
        if (attempt === 1) {
          o.log.warn({ free: o.disk.free, need }, 'disk full: waiting for free space to reopen the outbox')
        }
        await pause()
        continue
      }
    }
    try {
      if (repair) o.repairing()
      await o.db.reopen(o.load, { repair })
      return attempt
    } catch (err) {
      repair ||= isDamage(err) // a reopen that fails on damaged files is retried with a repair
      o.log.warn({ err, attempt, repair }, 'outbox recovery failed; retrying')
      await pause()
    }
  }
  return 0
}
