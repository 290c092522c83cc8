// The embedded MQTT broker: aedes behind our own listeners. Devices speak MQTT 3.1.1/3.1.
//
// Durability happens in aedes's authorizePublish hook: aedes sends a QoS 1 PUBACK (QoS 2 PUBREC) only
// after that callback, so the callback waits for the outbox commit. The `published` hook runs after the
// PUBACK and is not used for durability. Local subscribers and retained messages work as in any broker.

import type { Duplex } from 'node:stream'
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket } from 'aedes'
import type { Config } from '../../config/schema.js'
import { GatewayError } from '../errors.js'
import type { Ingest } from '../ingest.js'
import type { Logger } from '../logger.js'
import { Acl, type Principal } from './acl.js'
import { type Listener, openListener } from './listeners.js'
import { type GuardVerdict, guardPacketSize } from './packet-size-guard.js'

export interface BrokerOptions {
  config: Config['broker']
  ingest: Ingest
  logger: Logger
}

export interface LocalMessage {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

export interface BrokerCounters {
  connections: number
  connectionsTotal: number
  authFailures: number
  publishesReceived: number
  /** Committed to the outbox. */
  stored: number
  /** Matched no route: delivered to local subscribers only. */
  localOnly: number
  /** QoS 0 messages the outbox refused: dropped (nothing to withhold). */
  qos0Dropped: number
  /** QoS 1/2 messages the outbox refused: no PUBACK, client disconnected (it resends after reconnecting). */
  notStored: number
  refusedReservedTopic: number
  refusedNotAuthorized: number
  refusedSubscriptions: number
  oversizedPackets: number
  malformedPackets: number
  /** Other client errors (socket resets, keepalive timeouts, protocol violations). */
  clientErrors: number
}

const SYS_PREFIX = '$SYS/'

const PRINCIPAL = Symbol('outpost.principal')
/** The size guard cut this connection: nothing parsed from it is stored. */
const CUT = Symbol('outpost.cut')
/** QoS 2 packet ids whose commit is in progress (see storeQos2Once). */
const QOS2_PENDING = Symbol('outpost.qos2Pending')
const CLIENT = Symbol('outpost.client')

interface ConnectionState {
  [PRINCIPAL]?: Principal
  [CUT]?: boolean
  [QOS2_PENDING]?: Map<number, Promise<void>>
}

function stateOf(client: Client): ConnectionState {
  return client as unknown as ConnectionState
}

interface IncomingStore {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>
}

export class Broker {
  private aedes: Aedes | undefined
  private listeners: Listener[] = []
  private readonly acl: Acl
  // Per-connection state lives on the aedes Client under symbols: authorizePublish reads it for every
  // message, and a property read is cheaper than a WeakMap lookup.
  /** Per client: QoS 2 packet ids whose commit is in progress (see storeQos2Once). */

  private readonly log: Logger
  private stopping = false
  readonly counters: BrokerCounters = {
    connections: 0,
    connectionsTotal: 0,
    authFailures: 0,
    publishesReceived: 0,
    stored: 0,
    localOnly: 0,
    qos0Dropped: 0,
    notStored: 0,
    refusedReservedTopic: 0,
    refusedNotAuthorized: 0,
    refusedSubscriptions: 0,
    oversizedPackets: 0,
    malformedPackets: 0,
    clientErrors: 0,
  }

  constructor(private readonly opts: BrokerOptions) {
    this.acl = new Acl(opts.config.users, opts.config.allowAnonymous)
    this.log = opts.logger
  }

  /** Addresses the broker listens on (after start). */
  get addresses(): ReadonlyArray<Pick<Listener, 'type' | 'host' | 'port'>> {
    return this.listeners.map(({ type, host, port }) => ({ type, host, port }))
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const principal = stateOf(client)[PRINCIPAL]
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
    })
    this.aedes = aedes
    aedes.on('client', () => {
      this.counters.connections++
      this.counters.connectionsTotal++
    })
    aedes.on('clientDisconnect', () => {
      this.counters.connections--
    })
    aedes.on('clientError', (client, err) => this.onClientError(client, err))
    aedes.on('connectionError', (client, err) => this.onClientError(client, err))

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

  /** Stops accepting connections, then closes every client. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping && !this.aedes) return
    this.stopping = true
    const closing = this.listeners.map((l) => l.close())
    this.listeners = []
    const aedes = this.aedes
    this.aedes = undefined
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await Promise.all(closing)
  }

  private accept(stream: Duplex, req: Parameters<Aedes['handle']>[1], remote: string): void {
    const aedes = this.aedes
    if (!aedes || this.stopping) {
      stream.destroy()
      return
    }
    const client = aedes.handle(stream, req)
    ;(stream as Duplex & { [CLIENT]?: Client })[CLIENT] = client
    guardPacketSize(stream, this.opts.config.maxPacketBytes, (verdict) =>
      this.onGuard(stream, verdict, remote),
    )
  }

  private onGuard(stream: Duplex, verdict: GuardVerdict, remote: string): void {
    const client = (stream as Duplex & { [CLIENT]?: Client })[CLIENT]
    if (client) stateOf(client)[CUT] = true
    if (verdict.kind === 'oversized') {
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
    } else {
      this.counters.malformedPackets++
      this.log.warn({ remote, reason: verdict.reason }, 'malformed packet: client disconnected')
    }
    stream.destroy()
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    this.acl.authenticate(username, password).then(
      (result) => {
        if (result.ok) {
          stateOf(client)[PRINCIPAL] = result.principal
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

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    const topic = packet.topic
    // The size guard sees a chunk just before aedes parses it; anything parsed from a stream it cut
    // (the oversized packet itself included) is refused, never stored.
    const state = client ? stateOf(client) : undefined
    if (state?.[CUT]) {
      done(new GatewayError('OUTPOST_PACKET_TOO_LARGE', 'packet from a connection cut by the size guard'))
      return
    }
    // Replacing authorizePublish drops aedes's own $SYS guard: keep it.
    if (topic.startsWith(SYS_PREFIX)) {
      this.counters.refusedReservedTopic++
      done(new GatewayError('OUTPOST_PUBLISH_RESERVED_TOPIC', `${SYS_PREFIX} topics are reserved`))
      return
    }
    const principal = state?.[PRINCIPAL]
    if (principal && !Acl.canPublish(principal, topic)) {
      this.counters.refusedNotAuthorized++
      this.log.warn({ client: client?.id, topic }, 'publish refused by ACL: client disconnected')
      done(new GatewayError('OUTPOST_PUBLISH_NOT_AUTHORIZED', `not authorized to publish to ${topic}`))
      return
    }
    this.counters.publishesReceived++
    if (packet.qos === 2 && client) {
      this.storeQos2Once(client, packet, done)
      return
    }
    this.store(client, packet, done)
  }

  /**
   * QoS 2 is stored once [MQTT-4.3.3-2]: until PUBREL, a PUBLISH with the same packet id is the same
   * message. aedes records it (incomingStorePacket) only after this hook, and handles all packets of one
   * socket read at once, so a copy arriving while the first is being committed waits for that commit;
   * after it, aedes's incoming store says whether it holds the id.
   */
  private storeQos2Once(client: Client, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const id = packet.messageId as number
    const state = stateOf(client)
    let pending = state[QOS2_PENDING]
    if (!pending) {
      pending = new Map()
      state[QOS2_PENDING] = pending
    }
    const earlier = pending.get(id)
    if (earlier) {
      earlier.then(() => done(null), done)
      return
    }
    // aedes's persistence is untyped; incomingGetPacket resolves when it holds this packet id.
    const persistence = (this.aedes as unknown as { persistence: IncomingStore }).persistence
    const commit = persistence.incomingGetPacket(client, packet).then(
      () => undefined, // a retransmission of a message aedes holds (awaiting PUBREL): stored already
      () =>
        new Promise<void>((resolve, reject) =>
          this.store(client, packet, (err) => (err ? reject(err) : resolve())),
        ),
    )
    const map = pending
    map.set(id, commit)
    commit.then(
      () => done(null),
      (err: Error) => done(err),
    )
    // Forget it once aedes has recorded the packet: that happens in the microtasks right after done(),
    // so by the next macrotask aedes's incoming store is the authority (until PUBREL frees the id).
    commit.finally(() => setImmediate(() => map.delete(id))).catch(() => undefined)
  }

  /**
   * Commits a message to the outbox (or leaves it local), then calls `done`: with null, or with the
   * error that refuses a QoS 1/2 message the outbox could not store (QoS 0 does not wait for the
   * commit). Callbacks, not promises: every publish passes here.
   */
  private store(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : (packet.payload as Buffer)
    const msg = {
      topic: packet.topic,
      payload,
      qos: packet.qos,
      retain: packet.retain,
      origin: client?.id ?? '',
    }
    if (packet.qos === 0) {
      // QoS 0 is stored the same way (appended in order with the rest) but has no PUBACK to wait for:
      // aedes goes on at once and the outcome is only counted.
      const routed = this.opts.ingest(msg, (err) => {
        if (err === null) this.counters.stored++
        else this.counters.qos0Dropped++ // local subscribers got it; upstream will not
      })
      if (!routed) this.counters.localOnly++
      done(null)
      return
    }
    const routed = this.opts.ingest(msg, (err) => {
      if (err === null) {
        this.counters.stored++
        done(null)
        return
      }
      this.counters.notStored++
      this.log.warn(
        { client: client?.id, topic: packet.topic, code: err.code },
        'message not stored: no PUBACK, client disconnected',
      )
      // MQTT 3.1.1 has no negative PUBACK: closing the connection makes the device resend after it
      // reconnects [MQTT-4.4.0-1], by which time there may be room.
      done(
        new GatewayError('OUTPOST_PUBLISH_NOT_STORED', 'message not stored', { cause: err, canRetry: true }),
      )
    })
    if (!routed) {
      this.counters.localOnly++
      done(null)
    }
  }

  private onClientError(client: Client, err: Error & { code?: string }): void {
    if (err instanceof GatewayError) return // counted and logged where it was raised
    if (stateOf(client)[CUT]) return
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
