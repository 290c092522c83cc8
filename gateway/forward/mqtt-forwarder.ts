// Forwards the outbox to one MQTT upstream (mqtt.js 5). (That upstream's downlink is a component of its
// own, with a connection of its own: downlink.ts.)
//
// The outbox, not the upstream session, is the source of truth: every connection is a clean session
// that starts sending right after this upstream's cursor (publish-session.ts: one connection's sending).
// The cursor moves over the contiguous settled prefix only — acknowledged, not routed here, or moved to
// the dead letters once the upstream will never take it — so after a crash or a dropped connection
// nothing unacknowledged is skipped, and nothing is skipped silently. A message holds its slot in the
// window (`maxInflight`, or the broker's smaller Receive Maximum) until the cursor past it is written,
// so a crash resends at most a window's worth: duplicates are bounded by maxInflight, and carry their
// identity as MQTT 5 user properties (outpost-gateway + outpost-seq).
//
// What outlives a connection is here: the cursor, the dead letters being written, the poison tracker
// (poison-tracker.ts: connections the upstream drops on the same message), and whether the upstream is
// stalled (no acknowledgement within ackTimeoutMs, since when).
import { type IClientOptions, type MqttClient, connect as mqttConnect, ReasonCodes } from 'mqtt'
import type { MqttUpstreamConfig } from '../../config/schema.js'
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { GatewayError } from '../errors.js'
import type { Logger } from '../logger.js'
import { deadLettersOf, type Forwarder, Progress, within } from './forwarder.js'
import type { ForwarderStatus } from './forwarder-status.js'
import {
  type ConnectFn,
  type ConnectionState,
  clientOptions,
  connectMqtt,
  readTls,
  redactUrl,
  runConnections,
  uplinkClientId,
} from './mqtt-connection.js'
import { PoisonTracker } from './poison-tracker.js'
import { PublishSession, type SessionHost } from './publish-session.js'
import { RateLimiter } from './rate-limit.js'
import { disconnectMayBeAboutMessage, hexCode, type Refusal } from './reason-codes.js'

export type { ForwarderState, ForwarderStatus } from './forwarder-status.js'
export { type ConnectFn, redactUrl }

export interface MqttForwarderOptions {
  config: MqttUpstreamConfig
  gatewayId: string
  outbox: Outbox
  logger: Logger
  /** The connection factory (a seam for tests); mqtt.connect by default. */
  connect?: ConnectFn
  random?: () => number
  /** Wall clock, for "stalled since" (default Date.now). */
  now?: () => number
}

export class MqttForwarder implements Forwarder, SessionHost {
  readonly name: string
  readonly config: MqttUpstreamConfig
  readonly gatewayId: string
  readonly outbox: Outbox
  readonly limiter: RateLimiter | undefined
  readonly counters = {
    sent: 0,
    acked: 0,
    skipped: 0,
    connects: 0,
    disconnects: 0,
    stalls: 0,
    originOmitted: 0,
  }
  readonly log: Logger
  private readonly connectFn: ConnectFn
  private readonly now: () => number
  private readonly tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>
  private readonly clientId: string
  private readonly stopController = new AbortController()
  private readonly poison: PoisonTracker
  /** Dead letters written or being written whose record the cursor has not passed yet, by seq. */
  private readonly dead = new Map<number, Promise<void>>()
  private readonly refusals: Record<string, number> = {}
  private running: Promise<void> | undefined
  private readonly progress: Progress
  private current: PublishSession | undefined
  private window = 0
  private maxPacketBytes: number | undefined
  private connection: ConnectionState = 'idle'
  private connectedSince: number | undefined
  private stalledSince: number | undefined
  private lastError: string | undefined
  private warnedOrigin = false

  constructor(private readonly opts: MqttForwarderOptions) {
    this.config = opts.config
    this.name = opts.config.name
    this.gatewayId = opts.gatewayId
    this.log = opts.logger.child({ upstream: this.name })
    this.outbox = opts.outbox
    this.connectFn = opts.connect ?? mqttConnect
    this.now = opts.now ?? Date.now
    this.limiter = opts.config.maxRatePerSec ? new RateLimiter(opts.config.maxRatePerSec) : undefined
    this.poison = new PoisonTracker(opts.config.poisonAfterDisconnects)
    this.progress = new Progress(this.outbox.cursor(this.name))
    this.tls = readTls(opts.config)
    this.clientId = uplinkClientId(opts.config, opts.gatewayId)
  }

  start(): void {
    if (this.running) return
    this.running = this.run(this.stopController.signal).catch((err: unknown) => {
      this.log.error({ err }, 'forwarder stopped on an unexpected error')
    })
  }

  /** Waits until everything appended so far is settled, the upstream is unreachable, or `timeoutMs` passes. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.progress.reach(this.outbox.lastSeq, timeoutMs, () => this.connection === 'connected')
  }

  /** Closes the connection at once; settled progress is already committed. Idempotent. */
  async stop(deadlineMs = 5_000): Promise<void> {
    this.stopController.abort(new Error('forwarder stopped'))
    await within(this.running ?? Promise.resolve(), deadlineMs)
    this.connection = 'stopped'
  }

  status(): ForwarderStatus {
    const c = this.connection
    const stalled = this.stalledSince !== undefined && c !== 'idle' && c !== 'stopped'
    const poison = this.poison.state
    return {
      name: this.name,
      type: 'mqtt',
      state: stalled ? 'stalled' : c,
      connection: c,
      url: redactUrl(this.config.url),
      position: this.progress.position,
      inflight: this.current?.inflight ?? 0,
      window: this.window,
      ...this.counters,
      refusals: { ...this.refusals },
      deadLetters: deadLettersOf(this.outbox, this.name),
      stalledSince: this.stalledSince === undefined ? undefined : new Date(this.stalledSince).toISOString(),
      isolating: poison.isolating !== undefined,
      poisonSuspect: poison.suspect,
      poisonLosses: poison.losses,
      lastError: this.lastError,
      connectedSinceMs: this.connectedSince === undefined ? undefined : Date.now() - this.connectedSince,
    }
  }

  // ------------------------------------------------------------- SessionHost

  get position(): number {
    return this.progress.position
  }

  get isolating(): number | undefined {
    return this.poison.isolating
  }

  advance(seq: number): Promise<void> {
    if (!this.progress.advance(seq)) return Promise.resolve()
    this.poison.passed(seq)
    if (this.dead.size > 0) for (const s of this.dead.keys()) if (s <= seq) this.dead.delete(s)
    try {
      return this.outbox.commit(this.name, seq)
    } catch {
      return Promise.resolve() // the outbox is closed: we are stopping
    }
  }

  deadLetter(record: StoredRecord, reason: DeadLetterReason, detail: string): Promise<void> {
    const known = this.dead.get(record.seq)
    if (known) return known
    const written = this.outbox.deadLetters.add(this.name, record, reason, detail).then(
      () => {
        this.log.warn({ seq: record.seq, topic: record.topic, reason, detail }, 'dead-lettered')
      },
      (err: unknown) => {
        this.dead.delete(record.seq)
        this.log.error({ err, seq: record.seq, reason }, 'could not write a dead letter')
        throw err
      },
    )
    this.dead.set(record.seq, written)
    return written
  }

  deadLettered(seq: number): Promise<void> | undefined {
    return this.dead.size === 0 ? undefined : this.dead.get(seq)
  }

  answered(): void {
    this.poison.answered()
    if (this.stalledSince !== undefined) {
      this.log.info({ stalledMs: this.now() - this.stalledSince }, 'upstream acknowledging again')
      this.stalledSince = undefined
      this.lastError = undefined
    }
  }

  refused(refusal: Refusal): void {
    const key = hexCode(refusal.code)
    this.refusals[key] = (this.refusals[key] ?? 0) + 1
  }

  stalled(seq: number | undefined): void {
    if (this.stalledSince !== undefined) return
    this.stalledSince = this.now()
    this.counters.stalls++
    this.log.warn(
      { seq, ackTimeoutMs: this.config.ackTimeoutMs },
      'upstream stalled: no acknowledgement within ackTimeoutMs; reconnecting and resending',
    )
  }

  originOmitted(record: StoredRecord, problem: string): void {
    this.counters.originOmitted++
    if (this.warnedOrigin) return
    this.warnedOrigin = true
    this.log.warn(
      { seq: record.seq, problem },
      'a client id is not a legal MQTT string: its readings are forwarded without outpost-origin (logged once)',
    )
  }

  // ------------------------------------------------------------- connections

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
          this.maxPacketBytes = connack.properties?.maximumPacketSize
          return client
        },
        session: (client, signal) => this.session(client, signal),
        onState: (state) => {
          this.connection = state
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

  /** One connection: send from the cursor until it ends; then learn from how it ended. */
  private async session(client: MqttClient, stop: AbortSignal): Promise<void> {
    const conn = new AbortController()
    const end = (err: Error) => {
      if (!conn.signal.aborted) conn.abort(err)
    }
    const onStop = () => end(stop.reason as Error)
    stop.addEventListener('abort', onStop, { once: true })
    let disconnect: number | undefined
    client.on('disconnect', (packet) => {
      disconnect = packet.reasonCode
    })
    // mqtt.js reports a packet it cannot parse (e.g. a PUBACK reason code MQTT 5 does not allow there)
    // as an error and keeps the socket: the connection is in an unknown state, so it ends here.
    client.on('error', (err) => end(lost(err.message, err)))
    client.on('close', () =>
      end(lost(disconnect === undefined ? 'connection closed' : disconnectText(disconnect))),
    )
    this.connectedSince = Date.now()
    this.counters.connects++
    if (this.stalledSince === undefined) this.lastError = undefined // while stalled, it says why
    this.log.info(
      { window: this.window, position: this.position, backlog: this.outbox.lastSeq - this.position },
      'upstream connected',
    )
    const session = new PublishSession(this, client, conn.signal, end, this.window, this.maxPacketBytes)
    this.current = session
    try {
      await session.run()
    } finally {
      stop.removeEventListener('abort', onStop)
      this.current = undefined
    }
    if (stop.aborted) return
    const reason = (conn.signal.reason as Error | undefined) ?? lost('connection closed')
    // Our own endings (ack timeout, transient refusal) and a DISCONNECT about the server or the
    // connection (shutting down, session taken over…) say nothing about the message in flight.
    const evidence = disconnect === undefined || disconnectMayBeAboutMessage(disconnect)
    if (reason instanceof GatewayError && reason.code === 'OUTPOST_UPSTREAM_UNAVAILABLE' && evidence) {
      await this.learnFromLoss(session, reason)
    }
    throw reason
  }

  /** Poison detection: the upstream's side ended the connection (not our ack timeout, not a refusal). */
  private async learnFromLoss(session: PublishSession, reason: Error): Promise<void> {
    const oldest = session.oldestInFlight()
    const verdict = this.poison.lost(oldest)
    if (verdict === 'isolate') {
      this.log.warn(
        { seq: oldest, losses: this.config.poisonAfterDisconnects },
        'the upstream keeps closing the connection with the same message unacknowledged: sending it alone next',
      )
    } else if (verdict === 'dead-letter' && session.isolatedRecord) {
      const n = this.config.poisonAfterDisconnects
      await this.deadLetter(
        session.isolatedRecord,
        'upstream-disconnect',
        `the connection was lost ${n} time${n === 1 ? '' : 's'} in a row with it the oldest unacknowledged, then again with it sent alone: ${reason.message}`,
      ).catch(() => undefined)
    }
  }
}

function lost(message: string, cause?: unknown): GatewayError {
  return new GatewayError('OUTPOST_UPSTREAM_UNAVAILABLE', message, { cause, canRetry: true })
}

function disconnectText(code: number): string {
  const name = (ReasonCodes as Record<number, string | undefined>)[code] ?? 'unknown reason code'
  return `the upstream sent DISCONNECT ${hexCode(code)} (${name})`
}
