// How `outpost outbox …` prints: the stats for humans, a record on one line, a record as JSON.
import { formatSize } from '../../config/size.js'
import type { OutboxStats } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'

export function formatStats(s: OutboxStats, dir: string): string {
  const age = (ms: number) =>
    ms === 0 ? '-' : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`
  const c = s.counters
  const d = s.deadLetters
  const lines = [
    `outbox ${dir}: ${s.state}, durability ${s.durability}`,
    `records   ${s.messages} (seq ${s.firstSeq}..${s.lastSeq}), ${formatSize(s.bytes)} of ${formatSize(s.maxBytes)}${s.maxMessages ? `, max ${s.maxMessages} messages` : ''}`,
    `disk      ${formatSize(s.diskBytes)} used by the database, ${Number.isFinite(s.diskFreeBytes) ? formatSize(s.diskFreeBytes) : '?'} free`,
    `appended  ${s.appended} since the outbox was created`,
    `dropped   ${c.evicted} evicted (drop-oldest), ${c.expired} expired (maxAgeSec), ${c.upstreamRemoved} with a removed upstream`,
    `refused   ${c.rejectedBytes} over maxBytes, ${c.rejectedMessages} over maxMessages, ${c.rejectedDisk} low disk, ${c.writeFailed} write failures`,
    `dead      ${d.messages} dead letters held, ${formatSize(d.bytes)} of ${formatSize(d.maxBytes)}; ${d.requeued} requeued, ${d.purged} purged, ${d.evicted} evicted`,
  ]
  if (c.lostCorrupt > 0 || s.damage.repairs > 0 || s.damage.findings.length > 0) {
    lines.push(
      `damage    ${c.lostCorrupt} records lost (missing or unreadable), ${s.damage.repairs} repair(s) now`,
      ...s.damage.findings.map((f) => `  found: ${f}`),
    )
  }
  const byUpstream = new Map<string, string[]>()
  for (const t of d.totals) {
    const list = byUpstream.get(t.upstream) ?? []
    list.push(`${t.count} ${t.reason}`)
    byUpstream.set(t.upstream, list)
  }
  for (const [upstream, list] of byUpstream) {
    lines.push(`  ${upstream.padEnd(16)} dead-lettered ${list.join(', ')} (since the outbox was created)`)
  }
  lines.push(s.cursors.length ? 'cursors:' : 'cursors:  none (no upstream has run yet; everything is kept)')
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

/** A topic as typed, or JSON-quoted when it holds characters a terminal should not get raw (U+0000…). */
function topicText(topic: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  return /[\u0000-\u001f\u007f-\u009f\s"]|[\ud800-\udfff]/.test(topic) ? JSON.stringify(topic) : topic
}

export function formatRecord(r: StoredRecord): string {
  const to = r.to === 'all' ? 'all' : r.to.map((d) => d.upstream).join(',')
  return `${r.seq} ${new Date(r.ts).toISOString()} qos${r.qos}${r.retain ? ' retain' : ''} ${topicText(r.topic)} from=${r.origin || '-'} to=${to} ${r.payload.byteLength}B ${payloadPreview(r.payload)}`
}

export function recordJson(r: StoredRecord) {
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
