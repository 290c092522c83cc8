// `outpost outbox stats|peek|requeue|purge --data-dir D`: inspect the backlog and the dead letters of a
// stopped gateway (an SD card taken from a dead box). Opening the outbox replays its log, as the gateway
// would; stats and peek delete nothing. A running gateway holds the outbox's lock: exit 75.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../../store/dead-letters.js'
import { isOutboxError } from '../../store/errors.js'
import { Outbox } from '../../store/outbox.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'
import { changeDead, peekDead } from './outbox-dead.js'
import { formatRecord, formatStats, recordJson } from './outbox-format.js'

export const OUTBOX_USAGE = `usage: outpost outbox stats   --data-dir DIR [--json]
       outpost outbox peek    --data-dir DIR [--cursor NAME] [--limit N] [--json]
       outpost outbox peek    --data-dir DIR --dead [--upstream U] [--reason R] [--limit N] [--json]
       outpost outbox requeue --data-dir DIR --dead [--upstream U] [--reason R] [--json]
       outpost outbox purge   --data-dir DIR --dead [--upstream U] [--reason R] [--json]
dead-letter reasons: ${DEAD_LETTER_REASONS.join(', ')}`

const SUBCOMMANDS = ['stats', 'peek', 'requeue', 'purge'] as const
type Sub = (typeof SUBCOMMANDS)[number]

export async function outboxCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (!(SUBCOMMANDS as readonly (string | undefined)[]).includes(sub)) throw new UsageError(OUTBOX_USAGE)
  let o: ReturnType<typeof parse>
  try {
    o = parse(sub as Sub, rest)
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${OUTBOX_USAGE}`)
  }
  if (!existsSync(join(o.dataDir, 'outbox', 'CURRENT'))) {
    println(io.stderr, `no outbox in ${o.dataDir} (expected ${join(o.dataDir, 'outbox')})`)
    return EXIT.UNAVAILABLE
  }
  let outbox: Outbox
  try {
    outbox = await Outbox.open({ dir: o.dataDir, reserveBytes: 0, minFreeDiskBytes: 0 })
  } catch (err) {
    if (isOutboxError(err, 'OUTPOST_OUTBOX_LOCKED')) {
      const hint =
        sub === 'requeue' || sub === 'purge'
          ? `stop the gateway first (${sub} changes the outbox)`
          : 'while it runs, use its HTTP /api/status instead'
      println(io.stderr, `${err.message}; ${hint}`)
      return EXIT.TEMPFAIL
    }
    throw err
  }
  try {
    if (sub === 'stats') {
      const stats = await outbox.stats()
      println(io.stdout, o.json ? JSON.stringify(stats) : formatStats(stats, o.dataDir))
      return EXIT.OK
    }
    if (o.dead) {
      return sub === 'peek'
        ? await peekDead(outbox, o, io)
        : await changeDead(outbox, sub as 'requeue' | 'purge', o, io)
    }
    let after = outbox.firstSeq - 1
    if (o.cursor !== undefined) {
      if (!outbox.cursorNames().includes(o.cursor)) {
        println(io.stderr, `no cursor "${o.cursor}" (cursors: ${outbox.cursorNames().join(', ') || 'none'})`)
        return EXIT.USAGE
      }
      after = outbox.cursor(o.cursor)
    }
    const records = await outbox.read(after, { maxRecords: o.limit, maxBytes: Number.POSITIVE_INFINITY })
    for (const r of records) println(io.stdout, o.json ? JSON.stringify(recordJson(r)) : formatRecord(r))
    if (!o.json && records.length === 0) println(io.stdout, '(no records)')
    return EXIT.OK
  } finally {
    await outbox.close()
  }
}

function parse(sub: Sub, args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      cursor: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      dead: { type: 'boolean', default: false },
      upstream: { type: 'string' },
      reason: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`)
  const dataDir = values['data-dir']
  if (!dataDir) throw new Error('--data-dir is required')
  const dead = values.dead === true
  if ((sub === 'requeue' || sub === 'purge') && !dead) {
    throw new Error(`${sub} works on dead letters: add --dead`)
  }
  if (sub === 'stats' && dead)
    throw new Error('stats shows dead letters already; --dead is for peek, requeue, purge')
  if (!dead && (values.upstream !== undefined || values.reason !== undefined)) {
    throw new Error('--upstream and --reason select dead letters: add --dead')
  }
  if (dead && values.cursor !== undefined)
    throw new Error('--cursor is for records in the log, not with --dead')
  if (values.limit !== undefined && sub !== 'peek') throw new Error('--limit is for peek')
  const limit = Number(values.limit ?? '20')
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number')
  const reason = values.reason
  if (reason !== undefined && !(DEAD_LETTER_REASONS as readonly string[]).includes(reason)) {
    throw new Error(`--reason must be one of ${DEAD_LETTER_REASONS.join(', ')} (got "${reason}")`)
  }
  return {
    dataDir,
    json: values.json === true,
    cursor: values.cursor,
    limit,
    dead,
    upstream: values.upstream,
    reason: reason as DeadLetterReason | undefined,
  }
}
