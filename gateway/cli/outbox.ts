// `outpost outbox stats|peek|requeue|purge --data-dir D`: inspect the backlog and the dead letters of a
// stopped gateway (an SD card taken from a dead box). Opening the outbox replays its log, as the gateway
// would; stats and peek delete nothing. A running gateway holds the outbox's lock: exit 75. With
// --config F the data dir and the size limits come from the gateway's config.
import { accessSync, constants, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError } from '../../config/errors.js'
import { loadConfigFile } from '../../config/load.js'
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../../store/dead-letters.js'
import { isOutboxError } from '../../store/errors.js'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'
import { changeDead, peekDead } from './outbox-dead.js'
import { formatRecord, formatStats, recordJson } from './outbox-format.js'

export const OUTBOX_USAGE = `usage: outpost outbox stats   --data-dir DIR|--config FILE [--json]
       outpost outbox peek    --data-dir DIR [--cursor NAME] [--limit N] [--json]
       outpost outbox peek    --data-dir DIR --dead [--upstream U] [--reason R] [--limit N] [--json]
       outpost outbox requeue --data-dir DIR --dead [--upstream U] [--reason R] [--json]
       outpost outbox purge   --data-dir DIR --dead [--upstream U] [--reason R] [--json]
dead-letter reasons: ${DEAD_LETTER_REASONS.join(', ')}
--config FILE instead of --data-dir DIR: the gateway config's dataDir (and its size limits)`

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
  let limits: Partial<OutboxOptions> = {}
  if (o.config !== undefined) {
    try {
      // Secrets are not needed to read the outbox: unset ${VAR}s are left as they are.
      const config = loadConfigFile(o.config, { env: io.env, missingEnv: 'warn', defaultGatewayId: '-' })
      o.dataDir = config.dataDir
      const { maxBytes, maxMessages, maxAgeSec, whenFull, deadLetterMaxBytes, leveldb } = config.outbox
      limits = { maxBytes, maxMessages, maxAgeSec, whenFull, deadLetterMaxBytes, leveldb }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      println(io.stderr, err.message)
      return err.code === 'OUTPOST_CONFIG_UNREADABLE' ? EXIT.NOINPUT : EXIT.CONFIG
    }
  }
  if (!existsSync(join(o.dataDir, 'outbox', 'CURRENT'))) {
    println(io.stderr, `no outbox in ${o.dataDir} (expected ${join(o.dataDir, 'outbox')})`)
    return EXIT.UNAVAILABLE
  }
  const unwritable = cannotWrite(join(o.dataDir, 'outbox'))
  if (unwritable) {
    println(io.stderr, unwritable.line)
    return unwritable.code
  }
  let outbox: Outbox
  try {
    outbox = await Outbox.open({ dir: o.dataDir, reserveBytes: 0, minFreeDiskBytes: 0, ...limits })
  } catch (err) {
    if (isOutboxError(err, 'OUTPOST_OUTBOX_LOCKED')) {
      const hint =
        sub === 'requeue' || sub === 'purge'
          ? `stop the gateway first (${sub} changes the outbox)`
          : 'while it runs, use its HTTP /api/status instead'
      println(io.stderr, `${err.message}; ${hint}`)
      return EXIT.TEMPFAIL
    }
    if (isOutboxError(err) || isLevelError(err)) {
      println(
        io.stderr,
        `${(err as Error).message} — the store is damaged beyond what LevelDB's repair could fix, or the card is failing (dmesg); copy ${o.dataDir} elsewhere before trying anything else`,
      )
      return EXIT.IOERR
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
      config: { type: 'string' },
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
  const dataDir = values['data-dir'] ?? ''
  if (!dataDir && values.config === undefined) throw new Error('--data-dir is required (or --config FILE)')
  if (dataDir && values.config !== undefined) throw new Error('--data-dir or --config, not both')
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
    config: values.config,
    json: values.json === true,
    cursor: values.cursor,
    limit,
    dead,
    upstream: values.upstream,
    reason: reason as DeadLetterReason | undefined,
  }
}

/** classic-level's own errors (LEVEL_IO_ERROR, LEVEL_CORRUPTION, …), e.g. from a repair that failed. */
function isLevelError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('LEVEL_')
}

/**
 * Opening the outbox writes (LevelDB's lock and log files, a repair): on a card that is read-only or
 * not ours, say so instead of LevelDB's "IO error".
 */
function cannotWrite(dir: string): { code: number; line: string } | undefined {
  try {
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EROFS') {
      return {
        code: EXIT.CANTCREAT,
        line: `cannot open the outbox in ${dir}: the file system is read-only (a failing SD card is remounted read-only: see dmesg) — opening it needs to write; copy the data dir elsewhere (cp -a) and run this on the copy`,
      }
    }
    return {
      code: EXIT.NOPERM,
      line: `cannot open the outbox in ${dir}: not writable by this user (${code}) — run it as the gateway's user (sudo -u outpost …) or as root`,
    }
  }
}
