// `outpost outbox peek|requeue|purge --dead`: the dead letters of a stopped gateway's outbox — records an
// upstream will never take (store/dead-letters.ts) — listed, appended to the log again for their
// upstream (requeue: after fixing what refused them), or deleted (purge). Both report what they did,
// by upstream and reason; everything is counted in the outbox's stats.
import type { DeadLetter, DeadLetterFilter, DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'
import { type CliIo, EXIT, println } from './io.js'
import { formatRecord, recordJson } from './outbox-format.js'

export interface DeadOptions {
  upstream: string | undefined
  reason: DeadLetterReason | undefined
  limit: number
  json: boolean
}

const PAGE = 500

export async function peekDead(outbox: Outbox, o: DeadOptions, io: CliIo): Promise<number> {
  const letters = await outbox.deadLetters.list({ upstream: o.upstream, reason: o.reason, limit: o.limit })
  for (const d of letters) println(io.stdout, o.json ? JSON.stringify(deadJson(d)) : formatDead(d))
  if (!o.json && letters.length === 0) println(io.stdout, `(no dead letters${describe(o)})`)
  return EXIT.OK
}

export async function changeDead(
  outbox: Outbox,
  what: 'requeue' | 'purge',
  o: DeadOptions,
  io: CliIo,
): Promise<number> {
  const filter = { upstream: o.upstream, reason: o.reason }
  const by = await countMatching(outbox, filter)
  const n =
    what === 'requeue' ? await outbox.deadLetters.requeue(filter) : await outbox.deadLetters.purge(filter)
  const done = what === 'requeue' ? 'requeued' : 'purged'
  if (o.json) {
    println(io.stdout, JSON.stringify({ [done]: n, by }))
    return EXIT.OK
  }
  if (n === 0) {
    println(io.stdout, `no dead letters${describe(o)}: nothing ${done}`)
    return EXIT.OK
  }
  const parts = by.map((b) => `${b.upstream} ${b.reason}: ${b.count}`).join(', ')
  const next =
    what === 'requeue'
      ? '; appended to the log again for their upstream, sent when the gateway runs'
      : '; deleted for good (counted as purged)'
  println(io.stdout, `${done} ${n} dead letter${n === 1 ? '' : 's'} (${parts})${next}`)
  return EXIT.OK
}

/** Matching dead letters by upstream and reason, in the order they first appear. */
async function countMatching(
  outbox: Outbox,
  filter: Pick<DeadLetterFilter, 'upstream' | 'reason'>,
): Promise<Array<{ upstream: string; reason: DeadLetterReason; count: number }>> {
  const counts = new Map<string, { upstream: string; reason: DeadLetterReason; count: number }>()
  for (let afterId = 0; ; ) {
    const page = await outbox.deadLetters.list({ ...filter, afterId, limit: PAGE })
    if (page.length === 0) break
    for (const d of page) {
      const key = `${d.upstream} ${d.reason}`
      const c = counts.get(key) ?? { upstream: d.upstream, reason: d.reason, count: 0 }
      c.count++
      counts.set(key, c)
    }
    afterId = (page[page.length - 1] as DeadLetter).id
  }
  return [...counts.values()]
}

function describe(o: DeadOptions): string {
  const parts = [
    ...(o.upstream === undefined ? [] : [`upstream ${o.upstream}`]),
    ...(o.reason === undefined ? [] : [`reason ${o.reason}`]),
  ]
  return parts.length ? ` (${parts.join(', ')})` : ''
}

function formatDead(d: DeadLetter): string {
  return `#${d.id} ${new Date(d.deadAt).toISOString()} ${d.upstream} ${d.reason} ${JSON.stringify(d.detail)}\n    ${formatRecord(d.record)}`
}

function deadJson(d: DeadLetter) {
  return {
    id: d.id,
    upstream: d.upstream,
    reason: d.reason,
    detail: d.detail,
    deadAt: new Date(d.deadAt).toISOString(),
    record: recordJson(d.record),
  }
}
