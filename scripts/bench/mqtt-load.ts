// MQTT load for a broker under test: N clients (MQTT 3.1.1, as devices speak it), each keeping a fixed
// number of QoS 1 publishes in flight, timing every publish from the publish() call to its PUBACK
// callback. Runs in the benchmark process, so the broker (a child process) has a core to itself.
//
// Clients are mqtt.js, or RawPublisher (raw-publisher.ts): mqtt.js costs about as much CPU per message as
// the brokers measured here, so with it one core of load cannot saturate a broker.
import { connectAsync } from 'mqtt'
import { RawPublisher } from './raw-publisher.js'
import { type CpuSpent, cpuMeter, nowMs } from './report.js'
import { deviceTopic } from './workload.js'

export type LoadClient = 'raw' | 'mqttjs'
export const LOAD_CLIENTS: readonly LoadClient[] = ['raw', 'mqttjs']

export interface LoadOptions {
  url: string
  client: LoadClient
  clients: number
  /** QoS 1 publishes in flight per client. */
  inflight: number
  /** Messages in all (split evenly over the clients). */
  messages: number
  /** Time limit: no publish starts after it. */
  seconds: number
  payloads: readonly Buffer[]
  /** Client ids are `${clientIdPrefix}-${i}`. */
  clientIdPrefix: string
  signal?: AbortSignal
}

export interface LoadResult {
  /** Publishes issued / acknowledged / failed (callback with an error). */
  sent: number
  acked: number
  failed: number
  /** From the first publish to the last PUBACK. */
  elapsedMs: number
  /** PUBACK latency in ms of every acknowledged publish, in the first `acked` slots. */
  latenciesMs: Float64Array
  /** CPU of this (load-generating) process over the run. */
  loadCpu: CpuSpent
  /** Publishes still unacknowledged ACK_GRACE_MS after the time limit. */
  unacked: number
}

/** How long in-flight publishes may take to be acknowledged after the time limit. */
const ACK_GRACE_MS = 10_000
const PUBLISH_OPTIONS = { qos: 1 } as const

interface Publisher {
  publish(topic: string, payload: Buffer, cb: (err?: Error | null) => void): void
  end(): Promise<void>
}

/** Connects the clients (not timed), runs the load, disconnects. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const settled = await Promise.allSettled(
    Array.from({ length: opts.clients }, (_, i) => openPublisher(opts, `${opts.clientIdPrefix}-${i}`)),
  )
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  try {
    const failed = settled.find((s) => s.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    return await drive(clients, opts)
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)))
  }
}

async function openPublisher(opts: LoadOptions, clientId: string): Promise<Publisher> {
  if (opts.client === 'raw') {
    const url = new URL(opts.url)
    return RawPublisher.connect(url.hostname, Number(url.port), clientId)
  }
  const client = await connectAsync(opts.url, {
    protocolVersion: 4,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 60,
  })
  return {
    publish: (topic, payload, cb) => client.publish(topic, payload, PUBLISH_OPTIONS, (err) => cb(err)),
    end: () => client.endAsync(true),
  }
}

async function drive(clients: Publisher[], opts: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(opts.messages)
  let sent = 0
  let acked = 0
  let failed = 0
  let lastAck = 0
  const base = Math.floor(opts.messages / clients.length)
  const extra = opts.messages % clients.length
  const payloads = opts.payloads
  const cpuSpent = cpuMeter()
  const t0 = nowMs()
  const deadline = t0 + opts.seconds * 1000

  const runClient = (client: Publisher, index: number) =>
    new Promise<void>((resolve) => {
      const topic = deviceTopic(index)
      const share = base + (index < extra ? 1 : 0)
      let issued = 0
      let pending = 0
      let broken = false
      const next = () => {
        // Keep the window full until this client's share is sent, time is up, or a publish failed (the
        // connection is gone: the rest of its share is not sent).
        while (pending < opts.inflight && issued < share && !broken) {
          const start = nowMs()
          if (start >= deadline || opts.signal?.aborted) break
          const payload = payloads[(sent + index) % payloads.length] as Buffer
          issued++
          sent++
          pending++
          client.publish(topic, payload, (err) => {
            pending--
            if (err) {
              failed++
              broken = true
            } else {
              lastAck = nowMs()
              latencies[acked++] = lastAck - start
            }
            next()
          })
        }
        if (pending === 0) resolve()
      }
      next()
    })

  let timer: NodeJS.Timeout | undefined
  const grace = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), opts.seconds * 1000 + ACK_GRACE_MS)
  })
  try {
    await Promise.race([Promise.all(clients.map(runClient)), grace])
  } finally {
    clearTimeout(timer)
  }
  const loadCpu = cpuSpent()
  return {
    sent,
    acked,
    failed,
    elapsedMs: (acked > 0 ? lastAck : nowMs()) - t0,
    latenciesMs: latencies,
    loadCpu,
    unacked: sent - acked - failed,
  }
}
