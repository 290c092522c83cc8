// A simulated serial device: readings from a profile, framed as a real device would send them, written
// to a tty (the host end of a socat pty pair) at a steady rate. The gateway reads the other end.
import { encodeFrame, type Framing } from './frame-encoders.js'
import { deviceSeed, mulberry32 } from './prng.js'
import { createSensor, type ProfileName } from './profiles.js'
import { PtyWriter } from './pty-writer.js'
import { runTime } from './run-time.js'

export interface SerialSimOptions {
  path: string
  framing: Framing
  ratePerSec: number
  profile: ProfileName
  /** Stop after this long; undefined: until the signal aborts. */
  durationMs?: number
  /** The device id in the readings. */
  id?: string
  seed?: number
  baudRate?: number
}

export interface SerialSimSummary {
  path: string
  framing: Framing
  durationMs: number
  /** Readings produced. */
  sent: number
  /** Frames queued to the port. */
  written: number
  /** Frames dropped: the port was away (unplugged) or its queue was full (nobody reading). */
  dropped: number
  bytes: number
  opens: number
}

export async function runSerialSim(opts: SerialSimOptions, signal?: AbortSignal): Promise<SerialSimSummary> {
  const writer = await PtyWriter.open(opts.path, { baudRate: opts.baudRate })
  const id = opts.id ?? 'serial-sim'
  const sensor = createSensor(opts.profile, id, 0, mulberry32(deviceSeed(opts.seed ?? 1, 0)))
  const periodMs = 1000 / opts.ratePerSec
  const started = performance.now()
  const wallStart = Date.now()
  let sent = 0
  const produce = () => {
    const elapsed = performance.now() - started
    const until = opts.durationMs === undefined ? elapsed : Math.min(elapsed, opts.durationMs)
    for (const due = Math.floor(until / periodMs) + 1; sent < due; sent++) {
      writer.write(encodeFrame(opts.framing, sensor.next(wallStart + sent * periodMs)))
    }
  }
  produce()
  const ticker = setInterval(produce, Math.min(20, periodMs))
  try {
    await runTime(opts.durationMs, signal)
    produce()
  } finally {
    clearInterval(ticker)
  }
  const durationMs = performance.now() - started
  await writer.drain(2000)
  await writer.close()
  const s = writer.stats
  return {
    path: opts.path,
    framing: opts.framing,
    durationMs,
    sent,
    written: s.frames,
    dropped: s.dropped,
    bytes: s.bytes,
    opens: s.opens,
  }
}
