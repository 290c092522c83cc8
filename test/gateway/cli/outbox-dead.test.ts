// `outpost outbox peek|requeue|purge --dead` and the dead letters in `outbox stats`, as a real process on
// an outbox written here with the store; and the whole round trip: a gateway dead-letters a refused
// reading, the upstream is fixed, the CLI requeues it, the gateway sends it.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import type { OutboxStats } from '../../../store/outbox.js'
import { Outbox } from '../../../store/outbox.js'
import type { OutboxRecord, StoredRecord } from '../../../store/record-codec.js'
import type { LineChild } from '../../helpers/child.js'
import { runCli } from '../../helpers/cli.js'
import { readingsFrom, seedOutbox, storeAfter } from '../../helpers/forwarding.js'
import { forwardingPerTest } from '../../helpers/forwarding-per-test.js'
import { NO_DISK_GUARD, readAll } from '../../helpers/outbox.js'
import { holdOutbox } from '../../helpers/outbox-holder.js'
import { tempDir } from '../../helpers/tmp.js'
import { until } from '../broker/harness.js'

const TS = Date.parse('2024-03-01T12:00:00.000Z')
const NOW = Date.parse('2024-03-02T08:30:00.000Z')

const RECORDS: OutboxRecord[] = [
  {
    topic: 'sensors/a/t',
    payload: Buffer.from('one'),
    qos: 1,
    retain: false,
    ts: TS,
    origin: 'a',
    to: 'all',
  },
  {
    topic: 'secret/b',
    payload: Buffer.from('two'),
    qos: 1,
    retain: false,
    ts: TS + 1000,
    origin: 'b',
    to: [{ upstream: 'cloud', topic: 'sites/gw/secret/b' }, { upstream: 'lake' }],
  },
  {
    topic: 'a/\u0000/b',
    payload: Buffer.from('three'),
    qos: 1,
    retain: false,
    ts: TS + 2000,
    origin: 'c',
    to: 'all',
  },
]

/** An outbox with three dead letters: cloud not-authorized (seq 2), cloud bad-topic (3), lake refused (2). */
async function seed(): Promise<string> {
  const dir = join(tempDir(), 'data')
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD, now: () => NOW })
  try {
    outbox.cursor('cloud')
    outbox.cursor('lake')
    await outbox.append(RECORDS)
    const [, two, three] = await readAll(outbox)
    await outbox.deadLetters.add('cloud', two as StoredRecord, 'not-authorized', 'PUBACK 0x87 Not authorized')
    await outbox.deadLetters.add('cloud', three as StoredRecord, 'bad-topic', 'topic "a/\\u0000/b": NUL')
    await outbox.deadLetters.add('lake', two as StoredRecord, 'refused', 'PUBACK 0x83')
    await outbox.commit('cloud', 3)
    await outbox.commit('lake', 3)
  } finally {
    await outbox.close()
  }
  return dir
}

async function inspect(dir: string) {
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
  try {
    return {
      dead: await outbox.deadLetters.list(),
      records: await readAll(outbox),
      stats: await outbox.stats(),
    }
  } finally {
    await outbox.close()
  }
}

describe('outpost outbox peek --dead', () => {
  test('prints each dead letter with its upstream, reason, detail and record', async () => {
    const dir = await seed()
    const r = await runCli(['outbox', 'peek', '--data-dir', dir, '--dead'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      '#1 2024-03-02T08:30:00.000Z cloud not-authorized "PUBACK 0x87 Not authorized"\n' +
        '    2 2024-03-01T12:00:01.000Z qos1 secret/b from=b to=cloud,lake 3B "two"\n' +
        '#2 2024-03-02T08:30:00.000Z cloud bad-topic "topic \\"a/\\\\u0000/b\\": NUL"\n' +
        '    3 2024-03-01T12:00:02.000Z qos1 "a/\\u0000/b" from=c to=all 5B "three"\n' +
        '#3 2024-03-02T08:30:00.000Z lake refused "PUBACK 0x83"\n' +
        '    2 2024-03-01T12:00:01.000Z qos1 secret/b from=b to=cloud,lake 3B "two"\n',
    )
  })

  test('--upstream, --reason and --limit select; --json prints one dead letter a line', async () => {
    const dir = await seed()
    const byUpstream = await runCli([
      'outbox',
      'peek',
      '--data-dir',
      dir,
      '--dead',
      '--upstream',
      'lake',
      '--json',
    ])
    expect(byUpstream.code).toBe(0)
    const lines = byUpstream.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] as string)).toEqual({
      id: 3,
      upstream: 'lake',
      reason: 'refused',
      detail: 'PUBACK 0x83',
      deadAt: '2024-03-02T08:30:00.000Z',
      record: {
        seq: 2,
        ts: '2024-03-01T12:00:01.000Z',
        topic: 'secret/b',
        qos: 1,
        retain: false,
        origin: 'b',
        to: RECORDS[1]?.to,
        payloadBase64: Buffer.from('two').toString('base64'),
      },
    })
    const byReason = await runCli([
      'outbox',
      'peek',
      '--data-dir',
      dir,
      '--dead',
      '--reason',
      'bad-topic',
      '--json',
    ])
    expect(
      byReason.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: number }).id),
    ).toEqual([2])
    const limited = await runCli(['outbox', 'peek', '--data-dir', dir, '--dead', '--limit', '2', '--json'])
    expect(limited.stdout.trimEnd().split('\n')).toHaveLength(2)
    const none = await runCli(['outbox', 'peek', '--data-dir', dir, '--dead', '--upstream', 'nowhere'])
    expect(none).toMatchObject({ code: 0, stdout: '(no dead letters (upstream nowhere))\n' })
  })
})

describe('outpost outbox stats', () => {
  test('shows the dead letters held, their bytes, and what was dead-lettered by upstream and reason', async () => {
    const dir = await seed()
    const r = await runCli(['outbox', 'stats', '--data-dir', dir])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines).toContainEqual(
      expect.stringMatching(/^dead {6}3 dead letters held, .+ of 64 MiB; 0 requeued, 0 purged, 0 evicted$/),
    )
    expect(lines).toContain(
      `  ${'cloud'.padEnd(16)} dead-lettered 1 not-authorized, 1 bad-topic (since the outbox was created)`,
    )
    expect(lines).toContain(`  ${'lake'.padEnd(16)} dead-lettered 1 refused (since the outbox was created)`)
    const json = JSON.parse(
      (await runCli(['outbox', 'stats', '--data-dir', dir, '--json'])).stdout,
    ) as OutboxStats
    expect(json.deadLetters).toMatchObject({ messages: 3, requeued: 0, purged: 0 })
  })
})

describe('outpost outbox requeue|purge --dead', () => {
  test('requeue --upstream --reason appends the matching record again for that upstream only, and says so', async () => {
    const dir = await seed()
    const r = await runCli([
      'outbox',
      'requeue',
      '--data-dir',
      dir,
      '--dead',
      '--upstream',
      'cloud',
      '--reason',
      'not-authorized',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      'requeued 1 dead letter (cloud not-authorized: 1); appended to the log again for their upstream, sent when the gateway runs\n',
    )
    const after = await inspect(dir)
    expect(after.dead.map((d) => [d.id, d.upstream, d.reason])).toEqual([
      [2, 'cloud', 'bad-topic'],
      [3, 'lake', 'refused'],
    ])
    const last = after.records[after.records.length - 1]
    expect(last).toMatchObject({ seq: 4, topic: 'secret/b', ts: TS + 1000 })
    expect(last?.to).toEqual([{ upstream: 'cloud', topic: 'sites/gw/secret/b', key: undefined }])
    expect(after.stats.deadLetters).toMatchObject({ messages: 2, requeued: 1 })
  })

  test('purge --dead deletes them all, counted, by upstream and reason; --json says the same', async () => {
    const dir = await seed()
    const r = await runCli(['outbox', 'purge', '--data-dir', dir, '--dead', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      purged: 3,
      by: [
        { upstream: 'cloud', reason: 'not-authorized', count: 1 },
        { upstream: 'cloud', reason: 'bad-topic', count: 1 },
        { upstream: 'lake', reason: 'refused', count: 1 },
      ],
    })
    const after = await inspect(dir)
    expect(after.dead).toEqual([])
    expect(after.stats.deadLetters).toMatchObject({ messages: 0, bytes: 0, purged: 3 })
    const again = await runCli(['outbox', 'purge', '--data-dir', dir, '--dead', '--reason', 'bad-topic'])
    expect(again).toMatchObject({ code: 0, stdout: 'no dead letters (reason bad-topic): nothing purged\n' })
  })

  test('usage errors (64): no --dead, an unknown reason, dead-letter filters without --dead', async () => {
    const dir = await seed()
    const cases: Array<[string[], RegExp]> = [
      [['requeue'], /requeue works on dead letters: add --dead/],
      [['purge'], /purge works on dead letters: add --dead/],
      [
        ['peek', '--dead', '--reason', 'nope'],
        /--reason must be one of bad-topic, not-authorized, .* \(got "nope"\)/,
      ],
      [['peek', '--upstream', 'cloud'], /--upstream and --reason select dead letters: add --dead/],
      [['peek', '--dead', '--cursor', 'cloud'], /--cursor is for records in the log/],
      [['purge', '--dead', '--limit', '3'], /--limit is for peek/],
    ]
    for (const [args, message] of cases) {
      const [sub, ...rest] = args
      const r = await runCli(['outbox', sub as string, '--data-dir', dir, ...rest])
      expect(r.code, args.join(' ')).toBe(64)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).toContain('outpost outbox requeue --data-dir DIR --dead')
    }
    expect((await inspect(dir)).dead).toHaveLength(3) // nothing changed
  })
})

describe('a running gateway holds the outbox', () => {
  const children: LineChild[] = []
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill9()
  })

  test('requeue and purge exit 75 and say to stop the gateway first; nothing changes', async () => {
    const dir = await seed()
    const holder = holdOutbox(dir)
    children.push(holder)
    expect(await holder.waitForLines(1, 20_000), holder.stderr()).toBe(true)
    for (const sub of ['requeue', 'purge']) {
      const r = await runCli(['outbox', sub, '--data-dir', dir, '--dead'])
      expect(r.code, sub).toBe(75)
      expect(r.stderr).toMatch(/locked by another process/)
      expect(r.stderr).toContain(`stop the gateway first (${sub} changes the outbox)`)
    }
    const peek = await runCli(['outbox', 'peek', '--data-dir', dir, '--dead'])
    expect(peek.code).toBe(75)
    await holder.kill9()
    expect((await inspect(dir)).dead).toHaveLength(3)
  })
})

describe('the round trip', () => {
  const { scripted, gateway, cloud } = forwardingPerTest()

  test('dead-lettered on PUBACK 0x87, requeued once the upstream takes it, sent by the gateway', async () => {
    const upstream = await scripted()
    upstream.answer = (p) => ({ ack: p.payload.toString() === 'r-3' ? 0x87 : 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 5))
    const first = await gateway(dataDir, upstream.url)
    expect(await until(async () => (await cloud(first)).position === 5)).toBe(true)
    await first.stop()
    expect((await storeAfter(dataDir)).deadLetters.map((d) => d.record.seq)).toEqual([3])

    upstream.answer = () => ({ ack: 0 }) // the ACL was fixed
    const r = await runCli(['outbox', 'requeue', '--data-dir', dataDir, '--dead', '--upstream', 'cloud'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^requeued 1 dead letter \(cloud not-authorized: 1\)/)

    const second = await gateway(dataDir, upstream.url)
    await upstream.waitFor(
      () => upstream.publishes.filter((p) => p.payload.toString() === 'r-3').length === 2,
      10_000,
    )
    const resent = upstream.publishes.filter((p) => p.payload.toString() === 'r-3')
    expect(resent[1]?.seq).toBe(6) // appended again: a new sequence number
    await second.stop()
    const after = await storeAfter(dataDir)
    expect(after).toMatchObject({ cursor: 6, deadLetters: [] })
  })
})
