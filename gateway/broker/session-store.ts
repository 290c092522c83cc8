// The local broker's session store (issue #10, item 3): retained messages, persistent sessions (clean:
// false: their subscriptions and the QoS 1/2 messages queued for them) and incoming QoS 2 packets awaiting
// PUBREL (what Qos2Once asks), through aedes-persistence-level, in a LevelDB of their own in
// <dataDir>/broker. Not in the outbox's database: the outbox has its own write path and fsync discipline,
// and it is the source of truth for everything that goes upstream.
//
// What it guarantees: aedes-persistence-level writes without sync (LevelDB's default), so a write is in
// the kernel's buffers when aedes goes on. A crash of the process (kill -9, the OOM killer) loses nothing
// written; a power cut can lose the last seconds of writes — a subscription, a retained message, a
// command queued for an offline device, made just before it. That is accepted for local sessions: a
// device's reading is acknowledged after the outbox's commit, never this store's. A downlink command is
// acknowledged upstream once it is written here: it survives kill -9, not always a power cut.
//
// What it adds to the library:
// - A broker id per run that sorts in run order (aedes's default is a random UUID). A message queued for a
//   client is keyed `outgoing:<client>:<broker id>:<counter>` and aedes's counter starts again at 0 in
//   every run: with random ids, commands queued before and after a restart would reach the device in
//   random order (and with one fixed id, the new run's keys would overwrite the old ones). The run number
//   is kept here, under a key outside the library's prefixes (retained:, subscriptions:, outgoing:,
//   outgoing-id:, incoming:, will:).
// - The wills of earlier runs are dropped on open, so a will lives as long as the run that stored it, as
//   it did in memory: a stop has published them already, and aedes would publish those of a crashed run
//   without a client (after 4 heartbeats), so past the ACL of a user it can no longer tell.
// - Answers in call order (inCallOrder). aedes handles all packets of one socket read at once, and
//   relies on its persistence answering in the order it asked, as the memory one does; LevelDB answers
//   from a thread pool in any order. Without this, of 200 QoS 1/2 publishes in one read, QoS 2 ones
//   were stored out of order in the outbox (so sent upstream out of order), and up to 15 never reached
//   the local subscribers: aedes drops a message whose counter is below one the client already got
//   (dedupe in aedes/lib/client.js). With it, the store keeps aedes's order as memory does.
import { access, constants } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { isDamage, rootMessage } from '../../store/outbox-db.js'
import { GatewayError } from '../errors.js'
import type { Logger } from '../logger.js'

export interface SessionStore {
  /** aedes's `persistence` option. */
  readonly persistence: object
  /** aedes's `id` option: sorts after the ids of earlier runs. */
  readonly brokerId: string
  /** Closes the database (once aedes has closed). */
  close(): Promise<void>
}

/** What we use of aedes-persistence-level, which ships no types; aedes takes the whole object. */
interface LevelPersistence {
  streamWill(): AsyncIterable<{ clientId: string }>
  delWill(client: { id: string }): Promise<unknown>
}

type Db = ClassicLevel<string, string>

const requireCjs = createRequire(import.meta.url)
const createLevelPersistence = requireCjs('aedes-persistence-level') as (db: Db) => LevelPersistence

const RUN_KEY = 'outpost:run'

export async function openSessionStore(dir: string, log: Logger): Promise<SessionStore> {
  const db = await openDb(dir, log)
  try {
    const run = await nextRun(db)
    const persistence = createLevelPersistence(db)
    let dropped = 0
    for await (const will of persistence.streamWill()) {
      await persistence.delWill({ id: will.clientId })
      dropped++
    }
    log.info({ dir, run, willsDropped: dropped }, 'session store open')
    return {
      persistence: inCallOrder(persistence),
      brokerId: `outpost-${String(run).padStart(12, '0')}`,
      close: () => db.close(),
    }
  } catch (err) {
    await db.close().catch(() => undefined)
    throw openFailed(dir, err)
  }
}

/**
 * The persistence, with every promise it returns settled in the order of the calls that made them (the
 * work itself still runs at once). `setup` is left alone: aedes checks that it is an async function.
 * Most calls find nothing pending (an ingest with no persistent subscribers asks only the in-memory
 * subscription tree): those are passed through as they are.
 */
function inCallOrder<T extends object>(persistence: T): T {
  let pending = 0
  let last: Promise<unknown> = Promise.resolve()
  const settled = () => {
    pending--
  }
  const ignore = () => undefined
  const wrapped = new Map<PropertyKey, (...args: unknown[]) => unknown>()
  return new Proxy(persistence, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'setup') return value
      let fn = wrapped.get(key)
      if (!fn) {
        fn = (...args: unknown[]) => {
          const result: unknown = value.apply(target, args)
          if (!(result instanceof Promise)) return result // a stream, read in order already
          let inTurn: Promise<unknown> = result
          if (pending > 0) {
            result.catch(ignore) // handled: a rejection is passed on in its turn (else Node exits on it)
            inTurn = last.then(() => result)
          }
          pending++
          last = inTurn.then(settled, settled)
          return inTurn
        }
        wrapped.set(key, fn)
      }
      return fn
    },
  })
}

/** The number of this run: one more than the last one's, on disk (synced) before the broker starts. */
async function nextRun(db: Db): Promise<number> {
  const last = Number((await db.get(RUN_KEY)) ?? 0)
  const run = (Number.isSafeInteger(last) && last > 0 ? last : 0) + 1
  await db.put(RUN_KEY, String(run), { sync: true })
  return run
}

/** Opens the database; one that is damaged is repaired with LevelDB's repair, once. */
async function openDb(dir: string, log: Logger): Promise<Db> {
  try {
    return await open(dir)
  } catch (err) {
    if (isLocked(err)) {
      throw new GatewayError(
        'OUTPOST_SESSION_STORE_LOCKED',
        `the session store in ${dir} is locked by another process (is another gateway using this data dir?)`,
        { cause: err, canRetry: true },
      )
    }
    const denied = await accessProblem(dir)
    if (denied) throw openFailed(dir, err, denied)
    if (!isDamage(err)) throw openFailed(dir, err)
    log.warn({ dir, err }, 'session store damaged: repairing it (what LevelDB cannot read is lost)')
    try {
      await ClassicLevel.repair(dir)
      return await open(dir)
    } catch (again) {
      log.error({ dir, err: again }, 'session store repair failed')
      throw openFailed(dir, err)
    }
  }
}

async function open(dir: string): Promise<Db> {
  const db: Db = new ClassicLevel(dir)
  await db.open()
  return db
}

function isLocked(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return true
  }
  return false
}

/**
 * The file system's reason LevelDB could not open the store (LevelDB's errors carry no errno), e.g. files
 * left owned by root by a gateway once started with sudo; start-failure.ts tells the user what to do.
 */
async function accessProblem(dir: string): Promise<NodeJS.ErrnoException | undefined> {
  for (const path of [dir, join(dir, 'LOCK')]) {
    try {
      await access(path, constants.R_OK | constants.W_OK)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err as NodeJS.ErrnoException
    }
  }
  return undefined
}

/** `cause`: the errno-coded reason, when there is one (else the database's error). */
function openFailed(dir: string, err: unknown, cause: unknown = err): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError(
    'OUTPOST_SESSION_STORE_OPEN_FAILED',
    `cannot open the session store in ${dir}: ${rootMessage(err)}`,
    { cause },
  )
}
