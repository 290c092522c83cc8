// `outpost simulate`: a fleet of simulated MQTT devices against a broker (the gateway, usually), or one
// simulated serial device writing to a pty (--serial). Progress on a TTY, a summary at the end (--json
// for scripts). Ctrl-C stops producing and waits for what is in flight; a second Ctrl-C exits at once.
// Exit status: 0 when every reading was acknowledged, 1 when some failed, 64 usage.
import { parseArgs } from 'node:util'
import { type FleetProgress, type FleetSummary, runFleet } from '../../devices/simulator/fleet.js'
import type { Framing } from '../../devices/simulator/frame-encoders.js'
import { PROFILES, type ProfileName } from '../../devices/simulator/profiles.js'
import { runSerialSim, type SerialSimSummary } from '../../devices/simulator/serial-sim.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'

export const SIMULATE_USAGE = `usage: outpost simulate [--broker URL] [--devices N] [--rate R/s] [--qos 0|1|2] [--duration T]
                        [--profile env|gps|vibration|mixed] [--username U --password P] [--topic T]
                        [--seed S] [--id-prefix P] [--inflight N] [--drain-timeout T] [--json]
       outpost simulate --serial PATH --framing lines|json-lines|nmea|cobs|slip [--rate R/s] [--duration T]
                        [--profile …] [--baud B] [--json]
  --rate is per device (default 1/s); --duration T in seconds or with a unit (30s, 5m, 1h; default: until
  Ctrl-C); --topic may use {id} and {profile} (default sensors/{id}/telemetry); --broker default
  mqtt://127.0.0.1:1883`

const FRAMINGS: readonly Framing[] = ['lines', 'json-lines', 'nmea', 'cobs', 'slip']

export async function simulateCommand(args: string[], io: CliIo): Promise<number> {
  const o = parseOptions(args)
  const controller = new AbortController()
  let signals = 0
  const onSignal = () => {
    if (++signals > 1) process.exit(EXIT.FAILURE)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    if (o.serial !== undefined) {
      const summary = await runSerialSim(
        {
          path: o.serial,
          framing: o.framing,
          ratePerSec: o.rate,
          durationMs: o.durationMs,
          profile: o.profile,
          seed: o.seed,
          id: `${o.idPrefix}-serial`,
          baudRate: o.baud,
        },
        controller.signal,
      )
      println(io.stdout, o.json ? JSON.stringify(summary) : serialText(summary))
      return EXIT.OK
    }
    const tty = !o.json && (io.stderr as { isTTY?: boolean }).isTTY === true
    const summary = await runFleet(
      {
        url: o.broker,
        devices: o.devices,
        ratePerSec: o.rate,
        qos: o.qos,
        profile: o.profile,
        durationMs: o.durationMs,
        seed: o.seed,
        idPrefix: o.idPrefix,
        topic: o.topic,
        username: o.username,
        password: o.password,
        window: o.inflight,
        drainTimeoutMs: o.drainTimeoutMs,
        onProgress: tty ? (p) => io.stderr.write(`\r\x1b[2K${progressText(p)}`) : undefined,
      },
      controller.signal,
    )
    if (tty) io.stderr.write('\n')
    println(io.stdout, o.json ? JSON.stringify(summary) : fleetText(summary))
    return summary.failed === 0 ? EXIT.OK : EXIT.FAILURE
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

interface SimulateOptions {
  broker: string
  devices: number
  rate: number
  qos: 0 | 1 | 2
  durationMs: number | undefined
  profile: ProfileName
  username: string | undefined
  password: string | undefined
  topic: string | undefined
  seed: number
  idPrefix: string
  inflight: number
  drainTimeoutMs: number
  json: boolean
  serial: string | undefined
  framing: Framing
  baud: number
}

function parseOptions(args: string[]): SimulateOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        broker: { type: 'string' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        qos: { type: 'string' },
        duration: { type: 'string' },
        profile: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        topic: { type: 'string' },
        seed: { type: 'string' },
        'id-prefix': { type: 'string' },
        inflight: { type: 'string' },
        'drain-timeout': { type: 'string' },
        json: { type: 'boolean' },
        serial: { type: 'string' },
        framing: { type: 'string' },
        baud: { type: 'string' },
      },
    }).values
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${SIMULATE_USAGE}`)
  }
  const str = (k: string) => values[k] as string | undefined
  const framing = str('framing') ?? 'lines'
  if (!FRAMINGS.includes(framing as Framing)) usage(`--framing must be one of ${FRAMINGS.join(', ')}`)
  if (str('framing') !== undefined && str('serial') === undefined) usage('--framing goes with --serial PATH')
  const mqttOnly = ['broker', 'devices', 'qos', 'username', 'password', 'topic', 'inflight', 'drain-timeout']
  const clash = mqttOnly.find((k) => values[k] !== undefined)
  if (str('serial') !== undefined && clash)
    usage(`--${clash} is for MQTT devices; --serial simulates one serial device`)
  const profile = str('profile') ?? (framing === 'nmea' ? 'gps' : 'mixed')
  if (!(PROFILES as readonly string[]).includes(profile))
    usage(`--profile must be one of ${PROFILES.join(', ')}`)
  const qos = int('qos', str('qos') ?? '1', 0, 2) as 0 | 1 | 2
  const broker = str('broker') ?? 'mqtt://127.0.0.1:1883'
  if (!/^(mqtts?|wss?):\/\/[^/]+/.test(broker)) usage(`--broker must be a URL such as mqtt://127.0.0.1:1883`)
  if (str('password') !== undefined && str('username') === undefined) usage('--password goes with --username')
  const duration = str('duration')
  return {
    broker,
    devices: int('devices', str('devices') ?? '1', 1, 100_000),
    rate: rate(str('rate') ?? '1'),
    qos,
    durationMs: duration === undefined ? undefined : seconds('duration', duration) * 1000,
    profile: profile as ProfileName,
    username: str('username'),
    password: str('password'),
    topic: str('topic'),
    seed: int('seed', str('seed') ?? '1', 0, 2 ** 32 - 1),
    idPrefix: str('id-prefix') ?? 'sim',
    inflight: int('inflight', str('inflight') ?? '20', 1, 65535),
    drainTimeoutMs: seconds('drain-timeout', str('drain-timeout') ?? '30') * 1000,
    json: values.json === true,
    serial: str('serial'),
    framing: framing as Framing,
    baud: int('baud', str('baud') ?? '9600', 1, 4_000_000),
  }
}

function usage(message: string): never {
  throw new UsageError(`${message}\n${SIMULATE_USAGE}`)
}

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max)
    usage(`--${name} must be a whole number from ${min} to ${max}`)
  return n
}

/** "5", "5/s" or "0.5": readings per second. */
function rate(text: string): number {
  const n = Number(text.replace(/\/s$/, ''))
  if (!Number.isFinite(n) || n <= 0 || n > 100_000) usage('--rate must be readings per second, e.g. 5 or 5/s')
  return n
}

/** "60", "60s", "5m", "1h" or "1.5": seconds. */
function seconds(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text)
  if (!m) usage(`--${name} must be seconds or a duration such as 30s, 5m, 1h`)
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h']
}

const n = (v: number) => Math.round(v).toLocaleString('en-US')

function progressText(p: FleetProgress): string {
  return `${(p.elapsedMs / 1000).toFixed(0)}s  ${n(p.ackRate)} acked/s  sent ${n(p.sent)}  acked ${n(p.acked)}  in flight ${n(p.inflight)}  queued ${n(p.queued)}  connected ${n(p.connected)}  reconnects ${n(p.reconnects)}`
}

function fleetText(s: FleetSummary): string {
  return [
    `simulated ${n(s.devices)} device${s.devices === 1 ? '' : 's'} (${s.profile}, ${s.ratePerSec}/s each, QoS ${s.qos}) for ${(s.durationMs / 1000).toFixed(1)} s against ${s.url}`,
    `sent ${n(s.sent)}  acked ${n(s.acked)}  failed ${n(s.failed)}  resent ${n(s.resent)}  reconnects ${n(s.reconnects)}`,
  ].join('\n')
}

function serialText(s: SerialSimSummary): string {
  return [
    `simulated a serial device (${s.framing}) on ${s.path} for ${(s.durationMs / 1000).toFixed(1)} s`,
    `sent ${n(s.sent)}  written ${n(s.written)}  dropped ${n(s.dropped)}  bytes ${n(s.bytes)}  opens ${n(s.opens)}`,
  ].join('\n')
}
