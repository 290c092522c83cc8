// Fixtures for forwarder tests: an outbox seeded with numbered readings (as an older version, or a
// route with `invalidTopic: dead-letter`, could have stored them — bad ones included), an in-process
// gateway forwarding it to one MQTT upstream, and what the store says afterwards (dead letters, cursor).
import { join } from 'node:path'
import type { DeadLetter } from '../../store/dead-letters.js'
import { Outbox } from '../../store/outbox.js'
import type { OutboxRecord } from '../../store/record-codec.js'
import { type RunningGateway, startGateway } from '../gateway/broker/harness.js'
import { NO_DISK_GUARD } from './outbox.js'
import { tempDir } from './tmp.js'

/** Reading `i`: payload `r-<i>` on sensors/dev/telemetry, QoS 1, for every upstream. */
export function reading(i: number, overrides: Partial<OutboxRecord> = {}): OutboxRecord {
  return {
    topic: 'sensors/dev/telemetry',
    payload: Buffer.from(`r-${i}`),
    qos: 1,
    retain: false,
    ts: Date.now(),
    origin: 'dev',
    to: 'all',
    ...overrides,
  }
}

export const readingsFrom = (from: number, to: number): OutboxRecord[] =>
  Array.from({ length: to - from + 1 }, (_, k) => reading(from + k))

/** Appends `records` to a new outbox in a temp dir (sequence numbers 1…n) and returns the data dir. */
export async function seedOutbox(records: readonly OutboxRecord[]): Promise<string> {
  const dataDir = join(tempDir('outpost-fwd-'), 'data')
  const outbox = await Outbox.open({ dir: dataDir, ...NO_DISK_GUARD })
  try {
    if (records.length > 0) await outbox.append(records)
  } finally {
    await outbox.close()
  }
  return dataDir
}

/** An MQTT upstream named "cloud" with quick reconnects. */
export function cloudUpstream(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'cloud',
    type: 'mqtt',
    url,
    reconnect: { minMs: 50, maxMs: 200 },
    connectTimeoutMs: 2000,
    ...extra,
  }
}

/** Starts a gateway in this process on `dataDir` forwarding to `upstream`, with HTTP on a free port. */
export function forwardingGateway(
  dataDir: string,
  upstream: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<RunningGateway> {
  return startGateway(
    { upstreams: [upstream], http: { enabled: true, host: '127.0.0.1', port: 0 }, ...extra },
    { dataDir, logLevel: 'info' },
  )
}

/** The dead letters and cursors of a stopped gateway's outbox. */
export async function storeAfter(
  dataDir: string,
): Promise<{ deadLetters: DeadLetter[]; cursor: number; lastSeq: number }> {
  const outbox = await Outbox.open({ dir: dataDir, ...NO_DISK_GUARD })
  try {
    return {
      deadLetters: await outbox.deadLetters.list({ limit: 1000 }),
      cursor: outbox.cursorNames().includes('cloud') ? outbox.cursor('cloud') : -1,
      lastSeq: outbox.lastSeq,
    }
  } finally {
    await outbox.close()
  }
}

/** GET a path of the gateway's HTTP server. */
export async function httpGet(gw: RunningGateway, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.httpPort}${path}`)
  return res.text()
}

/** The value of one sample in a Prometheus exposition (undefined: absent). */
export function sample(
  metrics: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of metrics.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    )
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}
