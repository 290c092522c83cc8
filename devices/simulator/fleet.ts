// A fleet of simulated MQTT devices: N devices, each producing `ratePerSec` readings a second (phases
// spread so the load is even), for a duration or until aborted; then the fleet waits for what is still
// unacknowledged (drainTimeoutMs) and reports sent, acked and failed, overall and per device.

import { deviceSeed, mulberry32 } from './prng.js'
import { createSensor, type ProfileName, type SimReading } from './profiles.js'
import { runTime } from './run-time.js'
import { SimDevice } from './sim-device.js'

export interface FleetOptions {
  url: string
  devices: number
  /** Readings per second, per device. */
  ratePerSec: number
  qos: 0 | 1 | 2
  profile: ProfileName
  /** Stop producing after this long; undefined: until the signal aborts. */
  durationMs?: number
  seed?: number
  /** Device ids are PREFIX-0001, PREFIX-0002, …: stable across runs, so are client ids. */
  idPrefix?: string
  /** Topic per device: {id} is the device id, {profile} its sensor kind. */
  topic?: string
  username?: string
  password?: string
  /** In flight per device, at most. */
  window?: number
  /** Unacknowledged readings per device, at most (what a device can hold while offline). */
  maxQueued?: number
  drainTimeoutMs?: number
  reconnect?: { minMs: number; maxMs: number }
  progressMs?: number
  onProgress?: (p: FleetProgress) => void
  /** Called for every acknowledged reading (tests, the demo). */
  onAck?: (reading: SimReading) => void
}

export interface FleetProgress {
  elapsedMs: number
  /** Acknowledged readings per second over the last interval. */
  ackRate: number
  sent: number
  acked: number
  inflight: number
  queued: number
  connected: number
  reconnects: number
}

export interface DeviceSummary {
  id: string
  sent: number
  acked: number
  failed: number
  /** Sequence numbers never acknowledged (normally empty). */
  failedSeqs: number[]
}

export interface FleetSummary {
  url: string
  devices: number
  profile: ProfileName
  qos: 0 | 1 | 2
  ratePerSec: number
  durationMs: number
  /** Readings the devices produced. */
  sent: number
  acked: number
  /** Produced and never acknowledged: refused by a full device memory, or still unacknowledged at the end. */
  failed: number
  /** Messages sent again after a reconnect. */
  resent: number
  /** Connections re-established after a drop or a failed attempt. */
  reconnects: number
  perDevice: DeviceSummary[]
}

interface Member {
  device: SimDevice
  sensor: ReturnType<typeof createSensor>
  topic: string
  phaseMs: number
  produced: number
  refusedSeqs: number[]
}

export async function runFleet(opts: FleetOptions, signal?: AbortSignal): Promise<FleetSummary> {
  const seed = opts.seed ?? 1
  const width = Math.max(4, String(opts.devices).length)
  const periodMs = 1000 / opts.ratePerSec
  const members: Member[] = Array.from({ length: opts.devices }, (_, i) => {
    const id = `${opts.idPrefix ?? 'sim'}-${String(i + 1).padStart(width, '0')}`
    const random = mulberry32(deviceSeed(seed, i))
    const sensor = createSensor(opts.profile, id, i, random)
    const device = new SimDevice({
      url: opts.url,
      clientId: id,
      username: opts.username,
      password: opts.password,
      qos: opts.qos,
      window: opts.window ?? 20,
      maxQueued: opts.maxQueued ?? 100_000,
      reconnect: opts.reconnect ?? { minMs: 200, maxMs: 5000 },
      random,
      onAck: opts.onAck ? (m) => opts.onAck?.(JSON.parse(m.payload.toString()) as SimReading) : undefined,
    })
    const topic = (opts.topic ?? 'sensors/{id}/telemetry')
      .replaceAll('{id}', id)
      .replaceAll('{profile}', sensor.kind)
    return { device, sensor, topic, phaseMs: (i / opts.devices) * periodMs, produced: 0, refusedSeqs: [] }
  })

  const started = performance.now()
  const wallStart = Date.now()
  for (const m of members) m.device.start()

  const produce = () => {
    const elapsed = performance.now() - started
    const until = opts.durationMs === undefined ? elapsed : Math.min(elapsed, opts.durationMs)
    for (const m of members) {
      const due = Math.floor((until + m.phaseMs) / periodMs)
      while (m.produced < due) {
        const reading = m.sensor.next(wallStart + m.produced * periodMs)
        const ok = m.device.enqueue({
          seq: reading.seq,
          topic: m.topic,
          payload: Buffer.from(JSON.stringify(reading)),
        })
        if (!ok) m.refusedSeqs.push(reading.seq)
        m.produced++
      }
    }
  }

  let lastAcked = 0
  let lastAt = started
  const progress = () => {
    const t = performance.now()
    const p = snapshot(members, t - started)
    p.ackRate = ((p.acked - lastAcked) * 1000) / Math.max(1, t - lastAt)
    lastAcked = p.acked
    lastAt = t
    opts.onProgress?.(p)
  }

  const ticker = setInterval(produce, Math.min(20, periodMs))
  const progressTimer = opts.onProgress ? setInterval(progress, opts.progressMs ?? 1000) : undefined
  try {
    await runTime(opts.durationMs, signal)
    produce()
    clearInterval(ticker)
    const drainBy = performance.now() + (opts.drainTimeoutMs ?? 30_000)
    await Promise.all(members.map((m) => m.device.waitIdle(Math.max(0, drainBy - performance.now()))))
  } finally {
    clearInterval(ticker)
    clearInterval(progressTimer)
  }
  const durationMs = performance.now() - started
  if (opts.onProgress) progress()
  const perDevice = members.map((m): DeviceSummary => {
    const failedSeqs = [...m.refusedSeqs, ...m.device.unackedSeqs()].sort((a, b) => a - b)
    return {
      id: m.device.id,
      sent: m.produced,
      acked: m.device.stats.acked,
      failed: failedSeqs.length,
      failedSeqs,
    }
  })
  await Promise.all(members.map((m) => m.device.stop()))
  const sum = (f: (m: Member) => number) => members.reduce((n, m) => n + f(m), 0)
  return {
    url: opts.url,
    devices: opts.devices,
    profile: opts.profile,
    qos: opts.qos,
    ratePerSec: opts.ratePerSec,
    durationMs,
    sent: sum((m) => m.produced),
    acked: sum((m) => m.device.stats.acked),
    failed: perDevice.reduce((n, d) => n + d.failed, 0),
    resent: sum((m) => m.device.stats.resent),
    reconnects: sum((m) => Math.max(0, m.device.stats.connects - 1)),
    perDevice,
  }
}

function snapshot(members: readonly Member[], elapsedMs: number): FleetProgress {
  const p: FleetProgress = {
    elapsedMs,
    ackRate: 0,
    sent: 0,
    acked: 0,
    inflight: 0,
    queued: 0,
    connected: 0,
    reconnects: 0,
  }
  for (const m of members) {
    p.sent += m.produced
    p.acked += m.device.stats.acked
    p.inflight += m.device.inFlight
    p.queued += m.device.unacked - m.device.inFlight
    p.connected += m.device.connected ? 1 : 0
    p.reconnects += Math.max(0, m.device.stats.connects - 1)
  }
  return p
}
