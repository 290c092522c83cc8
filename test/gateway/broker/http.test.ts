// The HTTP side on port 0: /healthz, /readyz, /api/status (JSON) and /metrics (Prometheus text format
// 0.0.4), 404 for anything else and 405 for anything but GET/HEAD.
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ClientPool, connectClient, type RunningGateway, startGateway } from './harness.js'

/** A loopback port with nothing listening on it (the upstream stays unreachable). */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const pool = new ClientPool()
let gw: RunningGateway
let base: string

beforeAll(async () => {
  gw = await startGateway({
    http: { enabled: true, host: '127.0.0.1', port: 0 },
    upstreams: [
      {
        name: 'cloud',
        type: 'mqtt',
        url: `mqtt://127.0.0.1:${await deadPort()}`,
        reconnect: { minMs: 200, maxMs: 1000 },
        connectTimeoutMs: 1000,
      },
      { name: 'lake', type: 'kafka', brokers: ['127.0.0.1:9'] },
    ],
    routes: [{ match: 'sensors/#', to: ['cloud', 'lake'], topic: 'telemetry' }],
  })
  expect(gw.gateway.httpPort).toBeGreaterThan(0)
  base = `http://127.0.0.1:${gw.gateway.httpPort}`
  const device = pool.add(await connectClient(gw.url, { clientId: 'http-device' }))
  for (let i = 0; i < 3; i++) await device.publishAsync('sensors/http/telemetry', `r${i}`, { qos: 1 })
})
afterAll(async () => {
  await pool.endAll()
  await gw?.stop()
})

// Prometheus text format 0.0.4: a sample is `name{label="value",…} value`, label values escape \ " \n.
const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"'
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|NaN|[+-]Inf)'
const SAMPLE = new RegExp(`^(${METRIC_NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})$`)
const HELP = new RegExp(`^# HELP (${METRIC_NAME}) .*$`)
const TYPE = new RegExp(`^# TYPE (${METRIC_NAME}) (counter|gauge|histogram|summary|untyped)$`)

describe('HTTP status and metrics', () => {
  test('/healthz answers 200', async () => {
    const res = await fetch(`${base}/healthz`)
    expect(res.status).toBe(200)
    await res.text()
  })

  test('/readyz answers 200 with ready: true', async () => {
    const res = await fetch(`${base}/readyz`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/json')
    expect(await res.json()).toEqual({ ready: true, problems: [] })
  })

  test('/api/status is a JSON snapshot with broker, outbox and upstreams', async () => {
    const res = await fetch(`${base}/api/status`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/json')
    const body = (await res.json()) as Record<string, unknown> & {
      broker: Record<string, number>
      outbox: Record<string, unknown>
      upstreams: Array<Record<string, unknown>>
      listeners: Array<Record<string, unknown>>
    }
    expect(body.gatewayId).toBe('gw-broker')
    expect(body.broker.stored).toBe(3)
    expect(body.broker.connections).toBe(1)
    expect(body.outbox).toMatchObject({ state: 'ok', lastSeq: 3, messages: 3 })
    expect(body.upstreams.map((u) => [u.name, u.type])).toEqual([
      ['cloud', 'mqtt'],
      ['lake', 'kafka'],
    ])
    // 127.0.0.1:9 refuses: the Kafka forwarder keeps trying (its records stay queued).
    expect(['connecting', 'backoff']).toContain(body.upstreams[1]?.state)
    expect(body.listeners).toEqual([{ type: 'tcp', host: '127.0.0.1', port: gw.port }])
  })

  test('/metrics is valid Prometheus text with the outbox gauge and counters', async () => {
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text.endsWith('\n')).toBe(true)

    const problems: string[] = []
    const types = new Map<string, string>()
    const samples = new Map<string, number>()
    for (const line of text.slice(0, -1).split('\n')) {
      if (line.startsWith('#')) {
        const help = HELP.exec(line)
        const type = TYPE.exec(line)
        if (type) {
          if (types.has(type[1] as string)) problems.push(`TYPE repeated: ${line}`)
          types.set(type[1] as string, type[2] as string)
        } else if (!help) problems.push(`bad comment line: ${line}`)
        continue
      }
      const m = SAMPLE.exec(line)
      if (!m) {
        problems.push(`bad sample line: ${JSON.stringify(line)}`)
        continue
      }
      const name = m[1] as string
      if (!types.has(name)) problems.push(`sample before its TYPE: ${line}`)
      if (types.get(name) === 'counter' && !name.endsWith('_total'))
        problems.push(`counter without _total: ${name}`)
      samples.set(`${name}{${m[2] ?? ''}}`, Number(m[3]))
    }
    expect(problems).toEqual([])

    expect(samples.get('outpost_outbox_messages{}')).toBe(3)
    expect(samples.get('outpost_messages_stored_total{}')).toBe(3)
    expect(samples.get('outpost_broker_connections{}')).toBe(1)
    expect(types.get('outpost_messages_stored_total')).toBe('counter')
    expect(types.get('outpost_outbox_messages')).toBe('gauge')
    expect(samples.get('outpost_upstream_backlog_messages{upstream="cloud",type="mqtt"}')).toBe(3)
    expect(samples.get('outpost_upstream_backlog_messages{upstream="lake",type="kafka"}')).toBe(3)
    expect(samples.get('outpost_upstream_connected{upstream="cloud",type="mqtt"}')).toBe(0)
    // Wear and memory (issue #11): fsync mode, one publish at a time → at least one fsync per reading;
    // the batches held at least the three readings' topics and payloads; the process wrote to disk.
    const fsyncs = samples.get('outpost_outbox_fsyncs_total{}') as number
    expect(fsyncs).toBeGreaterThanOrEqual(3)
    expect(fsyncs).toBe(samples.get('outpost_outbox_writes_total{synced="true"}'))
    const reading = 'sensors/http/telemetry'.length + 'r0'.length
    expect(samples.get('outpost_outbox_written_bytes_total{}')).toBeGreaterThanOrEqual(3 * reading)
    expect(samples.get('outpost_process_written_bytes_total{}')).toBeGreaterThan(0)
    expect(samples.get('outpost_process_resident_memory_bytes{}')).toBeGreaterThan(2 ** 20)
    expect(types.get('outpost_process_written_bytes_total')).toBe('counter')
  })

  test('an unknown path is 404', async () => {
    const res = await fetch(`${base}/nope`)
    expect(res.status).toBe(404)
    await res.text()
  })

  test('POST is 405 with Allow: GET, HEAD', async () => {
    for (const path of ['/metrics', '/api/status', '/nope']) {
      const res = await fetch(`${base}${path}`, { method: 'POST', body: 'x' })
      expect(res.status, path).toBe(405)
      expect(res.headers.get('allow')).toBe('GET, HEAD')
      await res.text()
    }
  })
})
