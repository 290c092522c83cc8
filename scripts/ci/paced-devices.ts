// Well-behaved devices for tests and benchmarks: mqtt.js clients that each publish a QoS 1 reading at a
// steady pace (not waiting for the previous PUBACK, as a sensor on a timer does) and record how long
// each PUBACK took. Bounded by time; a reading still unacknowledged when the run ends counts as such.
import { connectAsync, type MqttClient } from 'mqtt'

export interface PacedOptions {
  url: string
  devices: number
  perSec: number
  seconds: number
  /** Client ids are `${idPrefix}-${i}`, topics `sensors/${idPrefix}-${i}/telemetry`. */
  idPrefix?: string
}

export interface PacedResult {
  /** PUBACK latency of every acknowledged reading, in ms. */
  latenciesMs: number[]
  /** When each of those readings was published, in ms from the start of the run (same order). */
  sentAtMs: number[]
  /** Payloads acknowledged (each unique: "<device>:<n>"). */
  acked: string[]
  /** Published but never acknowledged (the connection failed, or still pending at the end). */
  unacked: number
  /** Connections that closed during the run. */
  disconnects: number
}

export async function runPacedDevices(opts: PacedOptions): Promise<PacedResult> {
  const prefix = opts.idPrefix ?? 'paced'
  const result: PacedResult = { latenciesMs: [], sentAtMs: [], acked: [], unacked: 0, disconnects: 0 }
  const clients: MqttClient[] = []
  let ending = false
  try {
    for (let i = 0; i < opts.devices; i++) {
      const client = await connectAsync(opts.url, {
        clientId: `${prefix}-${i}`,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      })
      client.on('close', () => {
        if (!ending) result.disconnects++
      })
      client.on('error', () => undefined) // a failed connection shows up as 'close' and unacked readings
      clients.push(client)
    }
    const intervalMs = 1000 / opts.perSec
    const started = performance.now()
    const pending = new Set<string>()
    await Promise.all(
      clients.map(async (client, i) => {
        const topic = `sensors/${prefix}-${i}/telemetry`
        const end = performance.now() + opts.seconds * 1000
        let next = performance.now()
        for (let n = 0; performance.now() < end; n++) {
          const payload = `${prefix}-${i}:${n}`
          const t0 = performance.now()
          pending.add(payload)
          client.publish(topic, payload, { qos: 1 }, (err) => {
            if (err) return
            pending.delete(payload)
            result.latenciesMs.push(performance.now() - t0)
            result.sentAtMs.push(t0 - started)
            result.acked.push(payload)
          })
          next += intervalMs
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
        }
      }),
    )
    // Give the last readings the time a PUBACK may take, then count what is left.
    const settle = performance.now() + 5000
    while (pending.size > 0 && performance.now() < settle && clients.some((c) => c.connected)) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    result.unacked = pending.size
  } finally {
    ending = true
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)))
  }
  return result
}

/** The p-th percentile (0..100) of `values` (nearest rank); NaN when empty. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}
