// `outpost outbox stats|peek --data-dir D`: inspect the backlog of a stopped gateway (an SD card taken
// from a dead box). Opening the outbox replays its log, as the gateway would; nothing is deleted.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { formatSize } from '../../config/size.js'
import { isOutboxError } from '../../store/errors.js'
import { Outbox, type OutboxStats } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'

const USAGE = `usage: outpost outbox stats --data-dir DIR [--json]
       outpost outbox peek  --data-dir DIR [--cursor NAME] [--limit N] [--json]`

export async function outboxCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub !== 'stats' && sub !== 'peek') throw new UsageError(USAGE)
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(rest)
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`)
  }
  const { dataDir, json, cursor, limit } = parsed
  if (!existsSync(join(dataDir, 'outbox', 'CURRENT'))) {
    println(io.stderr, `no outbox in ${dataDir} (expected ${join(dataDir, 'outbox')})`)
    return EXIT.UNAVAILABLE
  }
  let outbox: Outbox
  try {
    outbox = await Outbox.open({ dir: dataDir, reserveBytes: 0, minFreeDiskBytes: 0 })
  } catch (err) {
    if (isOutboxError(err, 'OUTPOST_OUTBOX_LOCKED')) {
      println(io.stderr, `${err.message}; while it runs, use its HTTP /api/status instead`)
      return EXIT.TEMPFAIL
    }
    throw err
  }
  try {
    if (sub === 'stats') {
      const stats = await outbox.stats()
      println(io.stdout, json ? JSON.stringify(stats) : formatStats(stats, dataDir))
      return EXIT.OK
    }
    let after = outbox.firstSeq - 1
    if (cursor !== undefined) {
      if (!outbox.cursorNames().includes(cursor)) {
        println(io.stderr, `no cursor "${cursor}" (cursors: ${outbox.cursorNames().join(', ') || 'none'})`)
        return EXIT.USAGE
      }
      after = outbox.cursor(cursor)
    }
    const records = await outbox.read(after, { maxRecords: limit, maxBytes: Number.POSITIVE_INFINITY })
    for (const r of records) println(io.stdout, json ? JSON.stringify(recordJson(r)) : formatRecord(r))
    if (!json && records.length === 0) println(io.stdout, '(no records)')
    return EXIT.OK
  } finally {
    await outbox.close()
  }
}

function parse(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      cursor: { type: 'string' },
      limit: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`)
  const dataDir = values['data-dir']
  if (!dataDir) throw new Error('--data-dir is required')
  const limit = Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number')
  return { dataDir, json: values.json === true, cursor: values.cursor, limit }
}

function formatStats(s: OutboxStats, dir: string): string {
  const age = (ms: number) =>
    ms === 0 ? '-' : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`
  const c = s.counters
  const lines = [
    `outbox ${dir}: ${s.state}, durability ${s.durability}`,
    `records   ${s.messages} (seq ${s.firstSeq}..${s.lastSeq}), ${formatSize(s.bytes)} of ${formatSize(s.maxBytes)}${s.maxMessages ? `, max ${s.maxMessages} messages` : ''}`,
    `disk      ${formatSize(s.diskBytes)} used by the database, ${Number.isFinite(s.diskFreeBytes) ? formatSize(s.diskFreeBytes) : '?'} free`,
    `appended  ${s.appended} since the outbox was created`,
    `dropped   ${c.evicted} evicted (drop-oldest), ${c.expired} expired (maxAgeSec), ${c.upstreamRemoved} with a removed upstream`,
    `refused   ${c.rejectedBytes} over maxBytes, ${c.rejectedMessages} over maxMessages, ${c.rejectedDisk} low disk, ${c.writeFailed} write failures`,
    s.cursors.length ? 'cursors:' : 'cursors:  none (no upstream has run yet; everything is kept)',
  ]
  for (const cur of s.cursors) {
    lines.push(
      `  ${cur.name.padEnd(16)} at ${cur.position}, backlog ${cur.backlogMessages} records, ${formatSize(cur.backlogBytes)}, oldest ${age(cur.oldestAgeMs)}`,
    )
  }
  return lines.join('\n')
}

function payloadPreview(payload: Uint8Array, max = 80): string {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const text = buf.toString('utf8')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  const printable = !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)
  if (printable) return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)
  const hex = buf.subarray(0, max / 2).toString('hex')
  return `0x${hex}${buf.length > max / 2 ? '…' : ''}`
}

function formatRecord(r: StoredRecord): string {
  const to = r.to === 'all' ? 'all' : r.to.map((d) => d.upstream).join(',')
  return `${r.seq} ${new Date(r.ts).toISOString()} qos${r.qos}${r.retain ? ' retain' : ''} ${r.topic} from=${r.origin || '-'} to=${to} ${r.payload.byteLength}B ${payloadPreview(r.payload)}`
}

function recordJson(r: StoredRecord) {
  return {
    seq: r.seq,
    ts: new Date(r.ts).toISOString(),
    topic: r.topic,
    qos: r.qos,
    retain: r.retain,
    origin: r.origin,
    to: r.to,
    payloadBase64: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString(
      'base64',
    ),
  }
}
