// The embedded MQTT broker: aedes behind our own listeners. Devices speak MQTT 3.1.1/3.1.
//
// Durability happens in aedes's authorizePublish hook (publish-path.ts): aedes sends a QoS 1 PUBACK
// (QoS 2 PUBREC) only after that callback, so the callback waits for the outbox commit. The `published`
// hook runs after the PUBACK and is not used for durability. Local subscribers and retained messages
// work as in any broker; with a session store (session-store.ts) they, and persistent sessions with
// the messages queued for them, survive a restart. This file owns the connections: accepting them (the
// wire guard, the CONNECT timeout, the socket gauge), authenticating them (and giving each its limits),
// and their errors.

import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket } from 'aedes'
import type { Config } from '../../config/schema.js'
import { GatewayError } from '../errors.js'
import type { Ingest } from '../ingest.js'
import type { Logger } from '../logger.js'
import type { PendingBytes } from '../pending-bytes.js'
import { Acl } from './acl.js'
import { type BrokerCounters, zeroCounters } from './broker-counters.js'
import { ClientThrottle, type Limits, limitsFor, type ThrottleEvents } from './client-throttle.js'
import { attachState, type ConnectionState, newConnectionState, stateOf } from './connection-state.js'
import { type Listener, openListener } from './listeners.js'
import { PublishPath } from './publish-path.js'
import type { IncomingStore } from './qos2-once.js'
import type { SessionStore } from './session-store.js'
import { guardWire, type WireVerdict } from './wire-guard.js'

export type { BrokerCounters } from './broker-counters.js'

export interface BrokerOptions {
  config: Config['broker']
  ingest: Ingest
  /** What ingest has appended and not yet settled (shared with it). */
  pending: PendingBytes
  logger: Logger
  /** Monotonic milliseconds for the limits (default performance.now). */
  clock?: () => number
  /** Opens the session store at start (closed at stop); without it, aedes keeps sessions in memory. */
  openStore?: (() => Promise<SessionStore>) | undefined
}

export interface LocalMessage {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

export class Broker {
  private aedes: Aedes | undefined
  private store: SessionStore | undefined
  private listeners: Listener[] = []
  private readonly acl: Acl
  private readonly log: Logger
  private readonly clock: () => number
  private readonly limits: Limits
  private readonly userLimits: Map<string, Limits>
  private readonly publishes: PublishPath
  private readonly throttleEvents: ThrottleEvents
  private stopping = false
  readonly counters: BrokerCounters = zeroCounters()

  constructor(private readonly opts: BrokerOptions) {
    const config = opts.config
    this.acl = new Acl(config.users, config.allowAnonymous)
    this.log = opts.logger
    this.clock = opts.clock ?? (() => performance.now())
    this.limits = config.limits
    this.userLimits = new Map(config.users.map((u) => [u.username, limitsFor(config.limits, u.limits)]))
    this.publishes = new PublishPath({
      counters: this.counters,
      ingest: opts.ingest,
      log: this.log,
      maxThrottledSec: config.limits.maxThrottledSec,
      // aedes's persistence is untyped; its incoming QoS 2 store is what Qos2Once asks.
      persistence: () => (this.aedes as unknown as { persistence: IncomingStore }).persistence,
    })
    this.throttleEvents = {
      held: (cause) => {
        this.counters.throttledNow++
        if (cause === 'rate') this.counters.throttled++
        else this.counters.throttledPending++
      },
      released: () => {
        this.counters.throttledNow--
      },
    }
  }

  /** Addresses the broker listens on (after start). */
  get addresses(): ReadonlyArray<Pick<Listener, 'type' | 'host' | 'port'>> {
    return this.listeners.map(({ type, host, port }) => ({ type, host, port }))
  }

  async start(): Promise<void> {
    try {
      this.store = await this.opts.openStore?.()
      this.aedes = await this.createAedes(this.store)
    } catch (err) {
      await this.stop()
      throw err
    }
    const aedes = this.aedes
    aedes.on('keepaliveTimeout', (client) => {
      // aedes closes it next, with an error that carries no code: counted here, not as malformed.
      const state = stateOf(client)
      if (state && !state.closeCounted) {
        state.closeCounted = true
        this.counters.keepaliveTimeouts++
        this.log.info({ client: client.id }, 'keep alive expired: client disconnected')
      }
    })
    aedes.on('clientError', (client, err) => this.onClientError(client, err))
    aedes.on('connectionError', (client, err) => this.onClientError(client, err))
    // aedes emits 'error' when the session store fails under it (reading wills, queueing for offline
    // sessions); unheard, EventEmitter would throw it and take the gateway down. (Its types leave it out.)
    const emitter: EventEmitter = aedes
    emitter.on('error', (err: Error) => this.log.error({ err }, 'local broker error (session store)'))

    try {
      for (const config of this.opts.config.listeners) {
        const listener = await openListener(config, (stream, req, remote) => this.accept(stream, req, remote))
        this.listeners.push(listener)
        this.log.info({ type: listener.type, host: listener.host, port: listener.port }, 'listening')
      }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Publishes on the local broker (downlink); resolves when handed to local subscribers. */
  publishLocal(msg: LocalMessage): Promise<void> {
    const aedes = this.aedes
    if (!aedes || this.stopping) return Promise.reject(new Error('broker is not running'))
    return new Promise((resolve, reject) => {
      const packet = {
        cmd: 'publish',
        topic: msg.topic,
        payload: msg.payload,
        qos: msg.qos,
        retain: msg.retain,
        dup: false,
      }
      aedes.publish(packet as unknown as PublishPacket, (err?: Error | null) =>
        err ? reject(err) : resolve(),
      )
    })
  }

  /** Stops accepting connections, then closes every client, then the session store. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping && !this.aedes && !this.store) return
    this.stopping = true
    const closing = this.listeners.map((l) => l.close())
    this.listeners = []
    const aedes = this.aedes
    this.aedes = undefined
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await Promise.all(closing)
    // After aedes: closing clients write to the store. A will (published as aedes closes its client)
    // reaches the store only once the outbox has committed it; if that is after this, the will is still
    // forwarded upstream, but not retained or queued locally.
    const store = this.store
    this.store = undefined
    if (store) await store.close()
  }

  private createAedes(store: SessionStore | undefined): Promise<Aedes> {
    return Aedes.createBroker({
      ...(store ? { id: store.brokerId, persistence: store.persistence } : {}),
      preConnect: (client, _packet, done) => {
        // The CONNECT arrived: our connect timeout is over (see accept).
        const state = stateOf(client)
        if (state) clearTimeout(state.connectTimer)
        done(null, true)
      },
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.publishes.authorize(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const principal = stateOf(client)?.principal
        if (principal && !Acl.canSubscribe(principal, sub.topic)) {
          this.counters.refusedSubscriptions++
          this.log.warn({ client: client.id, topic: sub.topic }, 'subscription refused by ACL')
          return done(null, null) // SUBACK 0x80 for this filter [MQTT-3.9.3]
        }
        done(null, sub)
      },
      maxClientsIdLength: 128,
      queueLimit: 100,
      heartbeatInterval: 60_000,
      // Ours (accept) closes first and counts it; aedes's own is a backstop.
      connectTimeout: this.opts.config.connectTimeoutMs * 2,
    })
  }

  private accept(stream: Duplex, req: Parameters<Aedes['handle']>[1], remote: string): void {
    const aedes = this.aedes
    if (!aedes || this.stopping) {
      stream.destroy()
      return
    }
    // The gauge counts sockets, from accept to close: aedes's client/clientDisconnect events miss
    // closes when two connections take over one client id at once (issue #7, item 6).
    this.counters.connections++
    this.counters.connectionsTotal++
    const state = newConnectionState(remote)
    stream.once('close', () => {
      this.counters.connections--
      clearTimeout(state.connectTimer)
      state.throttle?.close()
    })
    const client = aedes.handle(stream, req)
    attachState(client, state)
    // aedes reads on every 'readable' event; its listener goes through the client's throttle, which
    // holds it while the client is held back (see client-throttle.ts).
    const readers = stream.listeners('readable') as Array<() => void>
    stream.removeAllListeners('readable')
    const read = () => {
      for (const r of readers) r()
    }
    stream.on('readable', () => {
      if (state.throttle === undefined) read()
      else state.throttle.readable(read)
    })
    state.connectTimer = setTimeout(
      () => this.onConnectTimeout(stream, state),
      this.opts.config.connectTimeoutMs,
    )
    guardWire(stream, this.opts.config.maxPacketBytes, (verdict) => this.onGuard(stream, state, verdict))
  }

  private onConnectTimeout(stream: Duplex, state: ConnectionState): void {
    state.closeCounted = true
    this.counters.connectTimeouts++
    this.log.warn(
      { remote: state.remote, connectTimeoutMs: this.opts.config.connectTimeoutMs },
      'no CONNECT in time: connection closed',
    )
    stream.destroy()
  }

  private onGuard(stream: Duplex, state: ConnectionState, verdict: WireVerdict): void {
    const remote = state.remote
    switch (verdict.kind) {
      case 'bad_topic':
        // Refused by the publish hook, which closes the connection (see ConnectionState.badTopic).
        state.badTopic = verdict.problem
        return
      case 'bad_client_id':
        state.badClientId = verdict.problem // authenticate answers CONNACK 2
        return
      case 'bad_will_topic':
        this.counters.refusedBadTopic++
        this.log.warn({ remote, problem: verdict.problem }, 'connection refused: will topic not valid')
        break
      case 'oversized':
        this.counters.oversizedPackets++
        this.log.warn(
          {
            remote,
            bytes: verdict.bytes,
            maxPacketBytes: this.opts.config.maxPacketBytes,
            code: 'OUTPOST_PACKET_TOO_LARGE',
          },
          'packet over maxPacketBytes: client disconnected',
        )
        break
      case 'malformed':
        this.counters.malformedPackets++
        this.log.warn({ remote, reason: verdict.reason }, 'malformed packet: client disconnected')
        break
    }
    state.cut = true
    stream.destroy()
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    const state = stateOf(client)
    if (state && state.badClientId !== '') {
      // It would be every record's origin and a user property upstream, which a strict broker refuses.
      this.counters.refusedClientIds++
      this.log.warn(
        { remote: state.remote, problem: state.badClientId },
        'connection refused: client id not valid',
      )
      done(Object.assign(new Error('client identifier not valid'), { returnCode: 2 }), false) // [MQTT-3.2.2.3]
      return
    }
    this.acl.authenticate(username, password).then(
      (result) => {
        if (result.ok) {
          if (state) {
            state.principal = result.principal
            const limits = (username && this.userLimits.get(username)) || this.limits
            state.throttle = new ClientThrottle(
              limits,
              this.opts.pending,
              this.clock,
              this.throttleEvents,
              () => this.publishes.disconnectThrottled(client, state),
            )
          }
          return done(null, true)
        }
        this.counters.authFailures++
        this.log.warn({ client: client.id, username, reason: result.reason }, 'connection refused')
        // [MQTT-3.2.2.3] 4 = bad user name or password, 5 = not authorized
        const err = Object.assign(new Error(`authentication failed: ${result.reason}`), {
          returnCode: result.reason === 'anonymous' ? 5 : 4,
        })
        done(err, false)
      },
      (err: Error) => done(Object.assign(err, { returnCode: 3 }), false),
    )
  }

  private onClientError(client: Client, err: Error & { code?: string }): void {
    if (err instanceof GatewayError) return // counted and logged where it was raised
    const state = stateOf(client)
    // After a close the broker caused (and counted), or once the client is gone, errors are its echoes:
    // a PUBACK written to a closed connection is not a protocol error of the device.
    if (client.closed || state?.cut || state?.closeCounted) return
    if (err.code === undefined && !this.stopping) {
      // mqtt-packet parse errors and protocol violations carry no code.
      this.counters.malformedPackets++
      this.log.warn({ client: client.id, err: err.message }, 'protocol error: client disconnected')
      return
    }
    this.counters.clientErrors++
    this.log.debug({ client: client.id, code: err.code }, 'client connection error')
  }
}

export type { AedesPublishPacket }
