// Forwards the outbox to one MQTT upstream (mqtt.js 5), and runs that upstream's downlink (downlink.ts,
// a connection of its own).
//
// The outbox, not the upstream session, is the source of truth: every connection is a clean session
// that starts sending right after this upstream's cursor. The cursor moves over the contiguous
// acknowledged prefix only, so after a crash or a dropped connection nothing unacknowledged is
// skipped. A message holds its slot in the window (`maxInflight`, or the broker's smaller Receive
// Maximum) until the cursor past it is written, so a crash resends at most a window's worth:
// duplicates are bounded by maxInflight, and carry their identity as MQTT 5 user properties
// (outpost-gateway + outpost-seq).
import {
  type IClientOptions,
  type IClientPublishOptions,
  type MqttClient,
  connect as mqttConnect,
} from 'mqtt'
import type { DownlinkConfig, MqttUpstreamConfig } from '../../config/schema.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import type { LocalMessage } from '../broker/broker.js'
import type { Logger } from '../logger.js'
import { AckWindow } from './ack-window.js'
import { sleep } from './backoff.js'
import { Downlink, type DownlinkStatus } from './downlink.js'
import {
  type ConnectFn,
  type ConnectionState,
  clientOptions,
  connectMqtt,
  readTls,
  redactUrl,
  runConnections,
} from './mqtt-connection.js'
import { RateLimiter } from './rate-limit.js'

export { type ConnectFn, redactUrl }

export interface MqttForwarderOptions {
  config: MqttUpstreamConfig
  gatewayId: string
  outbox: Outbox
  logger: Logger
  downlink?: readonly DownlinkConfig[]
  /** Publishes a downlink message on the local broker. */
  publishLocal?: (msg: LocalMessage) => Promise<void>
  /** The connection factory (a seam for tests); mqtt.connect by default. */
  connect?: ConnectFn
  random?: () => number
}

export type ForwarderState = ConnectionState

export interface ForwarderStatus extends DownlinkStatus {
  name: string
  type: 'mqtt'
  state: ForwarderState
  url: string
  /** Last record this upstream acknowledged (the cursor). */
  position: number
  inflight: number
  window: number
  sent: number
  acked: number
  skipped: number
  connects: number
  disconnects: number
  lastError: string | undefined
  connectedSinceMs: number | undefined
}

const READ_BATCH = 256
const READ_BYTES = 1 << 20

export class MqttForwarder {
  readonly name: string
  private readonly config: MqttUpstreamConfig
  private readonly log: Logger
  private readonly outbox: Outbox
  private readonly connectFn: ConnectFn
  private readonly limiter: RateLimiter | undefined
  private readonly downlink: Downlink
  private readonly tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>
  private readonly clientId: string
  private readonly stopController = new AbortController()
  private running: Promise<void> | undefined
  private acked: number
  private inflight = 0
  private window = 0
  private state: ForwarderState = 'idle'
  private connectedSince: number | undefined
  private lastError: string | undefined
  private readonly counters = {
    sent: 0,
    acked: 0,
    skipped: 0,
    connects: 0,
    disconnects: 0,
  }
  private progressWaiters = new Set<() => void>()

  constructor(private readonly opts: MqttForwarderOptions) {
    this.config = opts.config
    this.name = opts.config.name
    this.log = opts.logger.child({ upstream: this.name })
    this.outbox = opts.outbox
    this.connectFn = opts.connect ?? mqttConnect
    this.limiter = opts.config.maxRatePerSec ? new RateLimiter(opts.config.maxRatePerSec) : undefined
    this.acked = this.outbox.cursor(this.name)
    this.tls = readTls(opts.config)
    this.clientId = opts.config.clientId ?? `outpost-${opts.gatewayId}-${this.name}`
    this.downlink = new Downlink({
      config: opts.config,
      downlink: opts.downlink ?? [],
      gatewayId: opts.gatewayId,
      uplinkClientId: this.clientId,
      publishLocal: opts.publishLocal,
      connect: this.connectFn,
      tls: this.tls,
      logger: this.log,
      random: opts.random,
    })
  }

  start(): void {
    if (this.running) return
    this.downlink.start()
    this.running = this.run(this.stopController.signal).catch((err: unknown) => {
      this.log.error({ err }, 'forwarder stopped on an unexpected error')
    })
  }

  /** Waits until everything appended so far is acknowledged, the upstream is unreachable, or `timeoutMs` passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    const target = this.outbox.lastSeq
    const deadline = performance.now() + timeoutMs
    while (this.acked < target && this.state === 'connected') {
      const left = deadline - performance.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 100))
        function done() {
          clearTimeout(t)
          resolve()
        }
        this.progressWaiters.add(done)
      })
      this.progressWaiters.clear()
    }
    return this.acked >= target
  }

  /** Closes the downlink connection (before the local broker goes: commands would find no broker). */
  stopDownlink(): Promise<void> {
    return this.downlink.stop()
  }

  /** Closes the connection at once; acknowledged progress is already committed. Idempotent. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error('forwarder stopped'))
    await Promise.all([this.running, this.downlink.stop()])
    this.state = 'stopped'
  }

  status(): ForwarderStatus {
    return {
      name: this.name,
      type: 'mqtt',
      state: this.state,
      url: redactUrl(this.config.url),
      position: this.acked,
      inflight: this.inflight,
      window: this.window,
      ...this.counters,
      ...this.downlink.status(),
      lastError: this.lastError,
      connectedSinceMs: this.connectedSince === undefined ? undefined : Date.now() - this.connectedSince,
    }
  }

  private run(stop: AbortSignal): Promise<void> {
    const c = this.config
    const options = clientOptions(c, this.tls, { clientId: this.clientId, clean: true })
    return runConnections(
      {
        config: c,
        log: this.log,
        random: this.opts.random,
        connect: async (signal) => {
          const { client, connack } = await connectMqtt(this.connectFn, c.url, options, signal)
          this.window = Math.min(
            c.maxInflight,
            connack.properties?.receiveMaximum ?? Number.POSITIVE_INFINITY,
          )
          return client
        },
        session: (client, signal) => this.session(client, signal),
        onState: (state) => {
          this.state = state
        },
        onError: (err) => {
          this.lastError = err.message
        },
        onDisconnect: () => {
          this.counters.disconnects++
          this.connectedSince = undefined
        },
      },
      stop,
    )
  }

  /** One connected session: send from the cursor until the connection ends. */
  private async session(client: MqttClient, stop: AbortSignal): Promise<void> {
    const conn = new AbortController()
    const onStop = () => conn.abort(stop.reason)
    stop.addEventListener('abort', onStop, { once: true })
    let closedErr: Error | undefined
    client.on('error', (err) => {
      closedErr = err
    })
    client.on('close', () => conn.abort(closedErr ?? new Error('connection closed')))
    this.connectedSince = Date.now()
    this.counters.connects++
    this.lastError = undefined
    this.log.info(
      { window: this.window, position: this.acked, backlog: this.outbox.lastSeq - this.acked },
      'upstream connected',
    )
    try {
      await this.pump(client, conn.signal)
    } finally {
      stop.removeEventListener('abort', onStop)
      this.inflight = 0
    }
    if (!stop.aborted) throw conn.signal.reason ?? new Error('connection closed')
  }

  private async pump(client: MqttClient, signal: AbortSignal): Promise<void> {
    const window = new AckWindow(this.acked)
    let readPos = this.acked
    let slotFree: (() => void) | undefined
    let persistedRetired = 0 // slots whose cursor position is written
    const occupied = () => window.pushed - persistedRetired
    const qos = this.config.qos
    const v5 = this.config.protocolVersion === 5
    const wake = () => {
      if (slotFree) {
        const w = slotFree
        slotFree = undefined
        w()
      }
    }

    const onAck = (slot: number) => {
      const moved = window.ack(slot)
      this.inflight = window.size
      if (moved !== undefined && moved > this.acked) {
        this.acked = moved
        const retired = window.retired
        this.outbox.commit(this.name, moved).then(() => {
          if (retired > persistedRetired) persistedRetired = retired
          wake()
        })
        for (const w of this.progressWaiters) w()
      }
    }

    while (!signal.aborted) {
      if (occupied() >= this.window) {
        await untilAborted(signal, (resolve) => {
          slotFree = resolve
        })
        continue
      }
      let records: StoredRecord[]
      try {
        records = await this.outbox.read(readPos, {
          maxRecords: Math.min(READ_BATCH, this.window - occupied()),
          maxBytes: READ_BYTES,
        })
      } catch (err) {
        this.log.warn({ err }, 'outbox read failed; retrying')
        await sleep(1000, signal).catch(() => undefined)
        continue
      }
      if (records.length === 0) {
        await this.outbox.waitForAppend(readPos, signal).catch(() => undefined)
        continue
      }
      for (const r of records) {
        if (signal.aborted) return
        readPos = r.seq
        const slot = window.push(r.seq)
        this.inflight = window.size
        const topic = this.topicFor(r)
        if (topic === undefined) {
          this.counters.skipped++
          onAck(slot)
          continue
        }
        if (this.limiter) {
          try {
            await this.limiter.take(signal)
          } catch {
            return
          }
        }
        const options: IClientPublishOptions = { qos, retain: r.retain }
        if (v5) {
          options.properties = {
            userProperties: {
              'outpost-gateway': this.opts.gatewayId,
              'outpost-seq': String(r.seq),
              'outpost-ts': String(r.ts),
              ...(r.origin ? { 'outpost-origin': r.origin } : {}),
            },
          }
        }
        this.counters.sent++
        client.publish(
          topic,
          Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength),
          options,
          (err) => {
            if (err || signal.aborted) return // resent from the cursor on the next connection
            this.counters.acked++
            onAck(slot)
          },
        )
      }
    }
  }

  private topicFor(r: StoredRecord): string | undefined {
    if (r.to === 'all') return r.topic
    for (const d of r.to) if (d.upstream === this.name) return d.topic ?? r.topic
    return undefined
  }
}

function untilAborted(signal: AbortSignal, register: (resolve: () => void) => void): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
    register(done)
  })
}
