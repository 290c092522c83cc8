// In-process gateway fixtures for the broker suites: a real Gateway on a validated config (loopback,
// port 0, a temp data dir), its log lines captured from a sink stream, mqtt.js clients with bounded
// outcomes, a raw MQTT socket speaking mqtt-packet, and a read-back of the outbox once it is stopped.
import { type Socket, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt'
import { generate, type Packet, parser } from 'mqtt-packet'
import { afterEach } from 'vitest'
import { validateConfig } from '../../../config/load.js'
import type { Config } from '../../../config/schema.js'
import { Gateway } from '../../../gateway/gateway.js'
import { createLogger } from '../../../gateway/logger.js'
import { type BatchWriter, Outbox } from '../../../store/outbox.js'
import type { StoredRecord } from '../../../store/record-codec.js'
import { readAll } from '../../helpers/outbox.js'
import { tempDir } from '../../helpers/tmp.js'

export interface LogLine {
  level: string
  msg: string
  [key: string]: unknown
}

/** A pino destination that keeps every JSON line it is given. */
export class LogSink extends Writable {
  readonly lines: LogLine[] = []
  private buf = ''

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.buf += chunk.toString()
    let nl = this.buf.indexOf('\n')
    while (nl >= 0) {
      const line = this.buf.slice(0, nl)
      this.buf = this.buf.slice(nl + 1)
      if (line.trim() !== '') {
        try {
          this.lines.push(JSON.parse(line) as LogLine)
        } catch {
          this.lines.push({ level: 'raw', msg: line })
        }
      }
      nl = this.buf.indexOf('\n')
    }
    done()
  }

  messages(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.msg)
  }
}

export interface RunningGateway {
  gateway: Gateway
  config: Config
  dataDir: string
  logs: LogSink
  /** Port of the first broker listener. */
  port: number
  /** mqtt:// URL of the first broker listener. */
  url: string
  /** Stops the gateway (idempotent). */
  stop(): Promise<void>
}

/**
 * Starts a gateway in this process. `overrides` are raw (YAML-shaped) config keys; `broker` and `outbox`
 * are merged into the defaults below, everything else replaces them. The config goes through
 * validateConfig, as it would at start-up.
 */
export async function startGateway(
  overrides: Record<string, unknown> = {},
  options: { dataDir?: string; logLevel?: 'warn' | 'info' | 'debug'; writeBatch?: BatchWriter } = {},
): Promise<RunningGateway> {
  const dataDir = options.dataDir ?? join(tempDir('outpost-broker-'), 'data')
  const { broker, outbox, ...rest } = overrides
  const raw = {
    gatewayId: 'gw-broker',
    dataDir,
    log: { level: 'warn' },
    broker: {
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
      allowAnonymous: true,
      ...(broker as Record<string, unknown> | undefined),
    },
    outbox: { minFreeDiskBytes: 0, reserveBytes: 0, ...(outbox as Record<string, unknown> | undefined) },
    http: { enabled: false },
    ...rest,
  }
  const config = validateConfig(raw, 'broker-test.yaml', { env: {} })
  const logs = new LogSink()
  const gateway = new Gateway({
    config,
    logger: createLogger({ level: options.logLevel ?? 'warn', destination: logs }),
    writeBatch: options.writeBatch,
  })
  await gateway.start()
  const first = gateway.listeners[0]
  if (!first) throw new Error('gateway started without a listener')
  return {
    gateway,
    config,
    dataDir,
    logs,
    port: first.port,
    url: `mqtt://127.0.0.1:${first.port}`,
    stop: () => gateway.stop(),
  }
}

/** Every record in the outbox of a stopped gateway, read back through a fresh Outbox. */
export async function readOutbox(dataDir: string): Promise<StoredRecord[]> {
  const outbox = await Outbox.open({ dir: dataDir, minFreeDiskBytes: 0, reserveBytes: 0 })
  try {
    return await readAll(outbox)
  } finally {
    await outbox.close()
  }
}

export const payloadText = (r: { payload: Uint8Array }): string => Buffer.from(r.payload).toString('utf8')

export type ConnectOutcome =
  | { ok: true; client: MqttClient }
  | { ok: false; error: Error & { code?: number | string } }

/** Connects once (no reconnects); resolves with the client or with why it was refused. Bounded. */
export function tryConnect(
  url: string,
  options: IClientOptions = {},
  timeoutMs = 10_000,
): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const client = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
    let settled = false
    const finish = (outcome: ConnectOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.removeListener('connect', onConnect)
      client.removeListener('close', onClose)
      if (!outcome.ok) client.end(true)
      resolve(outcome)
    }
    const onConnect = () => finish({ ok: true, client })
    const onError = (error: Error) => finish({ ok: false, error })
    const onClose = () => finish({ ok: false, error: new Error('connection closed before CONNACK') })
    const timer = setTimeout(
      () => finish({ ok: false, error: new Error(`no CONNACK within ${timeoutMs} ms`) }),
      timeoutMs,
    )
    client.on('connect', onConnect)
    // Kept for the client's lifetime: errors after a refusal (or a later disconnect) are expected here.
    client.on('error', onError)
    client.on('close', onClose)
  })
}

/** Connects or throws with the reason. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const outcome = await tryConnect(url, options)
  if (!outcome.ok) throw new Error(`could not connect to ${url}: ${outcome.error.message}`)
  return outcome.client
}

/** Resolves when the client's connection closes; false if it is still open after `timeoutMs`. */
export function closed(client: MqttClient, timeoutMs = 10_000): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.removeListener('close', onClose)
      resolve(false)
    }, timeoutMs)
    const onClose = () => {
      clearTimeout(timer)
      resolve(true)
    }
    client.once('close', onClose)
  })
}

export type PublishOutcome = 'acked' | 'error' | 'closed' | 'timeout'

/**
 * Publishes and reports what came of it: acknowledged, failed, the connection closed first (mqtt.js
 * leaves a publish pending when the connection closes without reconnect), or nothing within timeoutMs.
 */
export function publishOutcome(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  options: IClientPublishOptions,
  timeoutMs = 10_000,
): Promise<PublishOutcome> {
  return new Promise((resolve) => {
    let settled = false
    const finish = (o: PublishOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.removeListener('close', onClose)
      resolve(o)
    }
    const onClose = () => finish('closed')
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    client.once('close', onClose)
    client.publish(topic, payload, options, (err) => finish(err ? 'error' : 'acked'))
  })
}

export interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
}

/**
 * Subscribes and returns the granted QoS per filter, in order (128 = refused). mqtt.js rejects the whole
 * call when any filter is refused; the SUBACK it carries still says which.
 */
export async function subscribeGranted(
  client: MqttClient,
  filters: Record<string, { qos: 0 | 1 | 2 }>,
): Promise<number[]> {
  try {
    const grants = await client.subscribeAsync(filters)
    return grants.map((g) => g.qos)
  } catch (err) {
    const granted = (err as { packet?: { granted?: unknown } }).packet?.granted
    if (!Array.isArray(granted)) throw err
    return granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos))
  }
}

/** Collects what a client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = []
  client.on('message', (topic, payload, packet) => {
    got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })
  })
  return got
}

/** Polls `check` until it is true or `timeoutMs` passes; returns its last value. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await check()) return true
    await sleep(intervalMs)
  }
  return check()
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Ends every client handed to it (at once, without waiting for acknowledgements). */
export class ClientPool {
  private readonly clients: MqttClient[] = []

  add<T extends MqttClient>(client: T): T {
    this.clients.push(client)
    return client
  }

  async endAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
  }
}

/**
 * The per-test fixture of the broker suites: gateways started through `start` are stopped, and clients
 * added to `pool` ended, after each test. Call once at the top of a test file.
 */
export function gatewaysPerTest(): { pool: ClientPool; start: typeof startGateway } {
  const running: RunningGateway[] = []
  const pool = new ClientPool()
  afterEach(async () => {
    await pool.endAll()
    await Promise.all(running.splice(0).map((g) => g.stop()))
  })
  return {
    pool,
    start: async (...args) => {
      const gw = await startGateway(...args)
      running.push(gw)
      return gw
    },
  }
}

/**
 * A raw MQTT 3.1.1 connection: packets written with mqtt-packet's generate(), everything received parsed
 * and kept in order, so a test controls retransmissions and sees exactly what the broker answers.
 */
export class RawMqtt {
  readonly received: Packet[] = []
  private readonly waiters = new Set<() => void>()
  private isClosed = false
  readonly closedPromise: Promise<void>

  private constructor(private readonly socket: Socket) {
    const p = parser({ protocolVersion: 4 })
    p.on('packet', (packet: Packet) => {
      this.received.push(packet)
      this.notify()
    })
    p.on('error', (err: Error) => {
      this.received.push({ cmd: 'disconnect', error: err.message } as unknown as Packet)
      this.notify()
    })
    socket.on('data', (chunk: Buffer) => p.parse(chunk))
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true
        this.notify()
        resolve()
      })
    })
    // The close that follows an error is what the tests observe.
    socket.on('error', () => this.notify())
  }

  static async open(
    port: number,
    clientId: string,
    options: { clean?: boolean; will?: { topic: string; payload: Buffer } } = {},
  ): Promise<RawMqtt> {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('error', reject)
    })
    const raw = new RawMqtt(socket)
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: options.clean ?? true,
      clientId,
      keepalive: 60,
      ...(options.will ? { will: { ...options.will, qos: 1, retain: false } } : {}),
    })
    const connack = await raw.next((p) => p.cmd === 'connack')
    if ((connack as { returnCode?: number }).returnCode !== 0) throw new Error('raw CONNECT refused')
    return raw
  }

  get closed(): boolean {
    return this.isClosed
  }

  send(...packets: Packet[]): void {
    // One write for all of them: they arrive at the broker in one read.
    this.socket.write(Buffer.concat(packets.map((p) => generate(p))))
  }

  /** Writes bytes as they are (packets mqtt-packet would not encode, such as invalid UTF-8 topics). */
  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  count(match: (p: Packet) => boolean): number {
    return this.received.filter(match).length
  }

  /** Waits until `count(match)` reaches `n` (the n-th such packet); rejects after timeoutMs or on close. */
  waitCount(match: (p: Packet) => boolean, n: number, timeoutMs = 10_000): Promise<Packet> {
    const found = () => this.received.filter(match)[n - 1]
    const now = found()
    if (now) return Promise.resolve(now)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`raw client: ${this.count(match)}/${n} matching packets after ${timeoutMs} ms`))
      }, timeoutMs)
      const check = () => {
        const p = found()
        if (p) {
          clearTimeout(timer)
          this.waiters.delete(check)
          resolve(p)
        } else if (this.isClosed) {
          clearTimeout(timer)
          this.waiters.delete(check)
          reject(new Error(`raw client: connection closed with ${this.count(match)}/${n} matching packets`))
        }
      }
      this.waiters.add(check)
    })
  }

  next(match: (p: Packet) => boolean, timeoutMs = 10_000): Promise<Packet> {
    return this.waitCount(match, 1, timeoutMs)
  }

  end(): Promise<void> {
    this.socket.destroy()
    return this.closedPromise
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }
}
