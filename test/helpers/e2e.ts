// Fixtures for end-to-end tests: a cloud (mosquitto + a recording sink with a persistent session, so
// nothing the gateway hands to mosquitto is lost while the sink reconnects), gateway configs, and
// simulated devices that publish numbered readings and remember which ones were acknowledged.
import { join } from 'node:path'
import { SimDevice } from '../../devices/simulator/sim-device.js'
import { freePort, Mosquitto } from '../../scripts/ci/mosquitto.js'
import { hasBinary, needs } from './needs.js'
import { UpstreamSink } from './upstream-sink.js'

export const haveMosquitto = (): boolean =>
  needs('mosquitto (apt-get install mosquitto)', hasBinary('mosquitto'))

export interface Cloud {
  port: number
  url: string
  mosquitto: Mosquitto | undefined
  sink: UpstreamSink
  /** Starts mosquitto (again) and reconnects the sink. */
  up(): Promise<void>
  /** Stops mosquitto cleanly (its persistence keeps the sink's queue). */
  down(): Promise<void>
  close(): Promise<void>
}

/**
 * Prepares a cloud broker whose sink session already exists, then leaves it down (`startUp: false`) or up.
 */
export async function createCloud(dir: string, startUp: boolean): Promise<Cloud> {
  const port = await freePort()
  const url = `mqtt://127.0.0.1:${port}`
  const mosquitto = await Mosquitto.start({ dir: join(dir, 'mosquitto'), port, persistence: true })
  const sink = new UpstreamSink(url, '#', true, `sink-${port}`)
  await sink.connect() // creates the persistent session and its subscription
  const cloud: Cloud = {
    port,
    url,
    mosquitto,
    sink,
    async up() {
      await mosquitto.run()
      await sink.connect()
    },
    async down() {
      await sink.close()
      await mosquitto.stop()
    },
    async close() {
      await sink.close(true)
      await mosquitto.kill()
    },
  }
  if (!startUp) await cloud.down()
  return cloud
}

export function gatewayConfig(
  dataDir: string,
  upstreamUrl: string | undefined,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    gatewayId: 'gw-test',
    dataDir,
    log: { level: 'info' },
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], allowAnonymous: true },
    outbox: { minFreeDiskBytes: 0, reserveBytes: 0 },
    upstreams: upstreamUrl
      ? [
          {
            name: 'cloud',
            type: 'mqtt',
            url: upstreamUrl,
            reconnect: { minMs: 50, maxMs: 300 },
            connectTimeoutMs: 2000,
          },
        ]
      : [],
    http: { enabled: false },
    ...extra,
  }
}

export interface Reading {
  client: number
  i: number
}

export const readingTopic = (client: number) => `sensors/dev-${client}/telemetry`
export const encodeReading = (r: Reading) => Buffer.from(JSON.stringify(r))
export const decodeReading = (payload: Buffer): Reading => JSON.parse(payload.toString()) as Reading

/**
 * `clients` devices each publish `perClient` QoS 1 readings with up to `inflight` unacknowledged,
 * recording the acknowledged ones. Each is a simulator device (devices/simulator/sim-device.ts), so every
 * end-to-end run exercises it. Stops early (without throwing) when a connection dies, unless `reconnect`:
 * then the device reconnects and resends what was not acknowledged. Rejects when a first connect fails.
 */
export async function publishReadings(
  url: string,
  clients: number,
  perClient: number,
  options: {
    inflight?: number
    reconnect?: boolean
    startAt?: number
    /** Pause after each acknowledged reading (per slot), to stretch a stream over time. */
    pauseMs?: number
    onAck?: (r: Reading) => void
  } = {},
): Promise<Reading[][]> {
  const inflight = options.inflight ?? 100
  const start = options.startAt ?? 0
  const acked: Reading[][] = Array.from({ length: clients }, () => [])
  const devices: SimDevice[] = []
  const finished: Promise<void>[] = []
  for (let c = 0; c < clients; c++) {
    let next = start
    let finish!: () => void
    finished.push(
      new Promise<void>((resolve) => {
        finish = resolve
      }),
    )
    // Closed loop, like `inflight` workers that each publish, await the PUBACK, and publish again.
    const feed = () => {
      if (next >= start + perClient) return
      const r = { client: c, i: next++ }
      device.enqueue({ seq: r.i, topic: readingTopic(c), payload: encodeReading(r) })
    }
    const device: SimDevice = new SimDevice({
      url,
      clientId: `dev-${c}-${process.pid}`,
      qos: 1,
      window: inflight,
      maxQueued: inflight,
      reconnect: options.reconnect ? { minMs: 200, maxMs: 200 } : false,
      connectTimeoutMs: 5000,
      onAck: (m) => {
        const r = decodeReading(m.payload)
        acked[c]?.push(r)
        options.onAck?.(r)
        if ((acked[c]?.length ?? 0) >= perClient) finish()
        else if (options.pauseMs) setTimeout(feed, options.pauseMs)
        else feed()
      },
      onGiveUp: () => finish(),
    })
    devices.push(device)
    if (perClient === 0) finish()
    for (let k = 0; k < inflight; k++) feed()
  }
  try {
    for (const d of devices) d.start()
    await Promise.all(devices.map((d) => d.whenConnected()))
    await Promise.all(finished)
  } finally {
    await Promise.all(devices.map((d) => d.stop()))
  }
  return acked
}

/** Checks that, per client, the first copies of the readings arrive in publish order. Returns problems. */
export function orderProblems(messages: ReadonlyArray<{ payload: Buffer }>): string[] {
  const last = new Map<number, number>()
  const problems: string[] = []
  for (const m of messages) {
    const r = decodeReading(m.payload)
    const prev = last.get(r.client) ?? -1
    if (r.i <= prev) problems.push(`client ${r.client}: ${r.i} after ${prev}`)
    last.set(r.client, Math.max(prev, r.i))
  }
  return problems
}
