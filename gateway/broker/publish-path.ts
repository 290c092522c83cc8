// The publish pipeline: aedes's authorizePublish hook, read top to bottom. Refuse what the wire guard
// cut or found with a bad topic → $SYS/ → ACL → the client's limits (admit) → count it in → route and
// commit it (store) → hand aedes's callback back, now or once the client may go on (ClientThrottle:
// holding that callback is how a client is slowed down). aedes sends a QoS 1 PUBACK (QoS 2 PUBREC) only
// after that callback, so the callback waits for the outbox commit. Callbacks, not promises: every
// publish passes here.
import type { Client, PublishPacket } from 'aedes'
import { GatewayError } from '../errors.js'
import type { Ingest } from '../ingest.js'
import type { Logger } from '../logger.js'
import { pendingSize } from '../pending-bytes.js'
import { Acl } from './acl.js'
import type { BrokerCounters } from './broker-counters.js'
import type { ClientThrottle } from './client-throttle.js'
import { type ConnectionState, stateOf } from './connection-state.js'
import { type IncomingStore, Qos2Once } from './qos2-once.js'
import { SeenKeys } from './seen-keys.js'

const SYS_PREFIX = '$SYS/'

type Done = (err?: Error | null) => void

export interface PublishPathOptions {
  counters: BrokerCounters
  ingest: Ingest
  log: Logger
  /** broker.limits.maxThrottledSec, for the log line. */
  maxThrottledSec: number
  /** aedes's persistence (its incoming QoS 2 store), once aedes runs. */
  persistence: () => IncomingStore
}

export class PublishPath {
  private readonly counters: BrokerCounters
  private readonly ingest: Ingest
  private readonly log: Logger
  private readonly maxThrottledSec: number
  private readonly qos2: Qos2Once
  /** Client ids already logged per reason: a device repeating itself on every reconnect is logged once. */
  private readonly logged = {
    badTopic: new SeenKeys(),
    upstreamTopic: new SeenKeys(),
    throttled: new SeenKeys(),
  }

  constructor(opts: PublishPathOptions) {
    this.counters = opts.counters
    this.ingest = opts.ingest
    this.log = opts.log
    this.maxThrottledSec = opts.maxThrottledSec
    this.qos2 = new Qos2Once(opts.persistence)
  }

  /** aedes's authorizePublish hook: every PUBLISH off the wire, and every will, passes here. */
  authorize(client: Client | null, packet: PublishPacket, done: Done): void {
    const topic = packet.topic
    const state = stateOf(client)
    // The wire guard sees a chunk just before aedes parses it; anything parsed from a stream it cut
    // (the oversized packet itself included) is refused, never stored.
    if (state?.cut) {
      done(new GatewayError('OUTPOST_PACKET_TOO_LARGE', 'packet from a connection cut by the wire guard'))
      return
    }
    // Nothing of a connection with a bad topic is taken: not the PUBLISHes aedes still dispatches from
    // its pre-CONNACK queue after closing the client (found by fuzzing), not its will.
    if (state !== undefined && client !== null && state.badTopic !== '') {
      this.refuseBadTopic(client, state, topic, done)
      return
    }
    // Limits and QoS 2 bookkeeping are for a client still there (its will comes from a closed one).
    const wire = state !== undefined && client !== null && !client.closed
    // Replacing authorizePublish drops aedes's own $SYS guard: keep it.
    if (topic.startsWith(SYS_PREFIX)) {
      this.counters.refusedReservedTopic++
      done(new GatewayError('OUTPOST_PUBLISH_RESERVED_TOPIC', `${SYS_PREFIX} topics are reserved`))
      return
    }
    const principal = state?.principal
    if (principal && !Acl.canPublish(principal, topic)) {
      this.counters.refusedNotAuthorized++
      this.log.warn({ client: client?.id, topic }, 'publish refused by ACL: client disconnected')
      done(new GatewayError('OUTPOST_PUBLISH_NOT_AUTHORIZED', `not authorized to publish to ${topic}`))
      return
    }
    const throttle = wire ? state.throttle : undefined
    if (throttle !== undefined && !throttle.admit(topic.length + payloadLength(packet))) {
      this.refuseThrottled(client as Client, state as ConnectionState, done)
      return
    }
    this.counters.publishesReceived++
    if (packet.qos === 2 && wire) {
      this.qos2.run(client, state, packet, (stored) => this.store(client, throttle, packet, stored), done)
      return
    }
    this.store(client, throttle, packet, done)
  }

  /**
   * The wire guard found a PUBLISH topic of this connection not allowed (config/topic-chars.ts): the
   * connection is refused from here, once (aedes closes it at the first refusal).
   */
  private refuseBadTopic(client: Client, state: ConnectionState, topic: string, done: Done): void {
    if (!state.closeCounted) {
      state.closeCounted = true
      this.counters.refusedBadTopic++
      if (this.logged.badTopic.first(client.id)) {
        this.log.warn(
          { client: client.id, remote: state.remote, topic, problem: state.badTopic },
          'publish refused: topic not valid',
        )
      }
    }
    done(new GatewayError('OUTPOST_PUBLISH_BAD_TOPIC', `topic not valid: ${state.badTopic}`))
  }

  /** Over its limits for longer than maxThrottledSec: what it still sends is refused (and counted). */
  private refuseThrottled(client: Client, state: ConnectionState, done: Done): void {
    this.counters.refusedThrottled++
    this.disconnectThrottled(client, state)
    done(new GatewayError('OUTPOST_CLIENT_THROTTLED', 'client stayed over its limits', { canRetry: true }))
  }

  /** Over its limits for longer than maxThrottledSec: disconnected, once, counted and logged. */
  disconnectThrottled(client: Client, state: ConnectionState): void {
    if (state.closeCounted) return
    state.closeCounted = true
    this.counters.throttledDisconnects++
    if (this.logged.throttled.first(client.id)) {
      this.log.warn(
        { client: client.id, remote: state.remote, maxThrottledSec: this.maxThrottledSec },
        'client stayed over its limits: disconnected',
      )
    }
    client.conn.destroy()
  }

  /**
   * Routes and commits a message to the outbox (or leaves it local), then hands `done` back: for QoS 1/2
   * once committed (or with the error that refuses it: no PUBACK), for QoS 0 once committed too — that
   * is what keeps a QoS 0 flood to one socket read in flight — and through the client's throttle, which
   * may hold it. Callbacks, not promises: every publish passes here.
   */
  private store(
    client: Client | null,
    throttle: ClientThrottle | undefined,
    packet: PublishPacket,
    done: Done,
  ): void {
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : (packet.payload as Buffer)
    const msg = {
      topic: packet.topic,
      payload,
      qos: packet.qos,
      retain: packet.retain,
      origin: client?.id ?? '',
    }
    const size = throttle === undefined ? 0 : pendingSize(msg)
    throttle?.appended(size)
    const outcome = this.ingest(msg, (err) => {
      if (err === null) this.counters.stored++
      else if (packet.qos === 0)
        this.counters.qos0Dropped++ // local subscribers get it; upstream will not
      else {
        this.counters.notStored++
        this.log.warn(
          { client: client?.id, topic: packet.topic, code: err.code },
          'message not stored: no PUBACK, client disconnected',
        )
        throttle?.settle(size)
        // MQTT 3.1.1 has no negative PUBACK: closing the connection makes the device resend after it
        // reconnects [MQTT-4.4.0-1], by which time there may be room.
        done(
          new GatewayError('OUTPOST_PUBLISH_NOT_STORED', 'message not stored', {
            cause: err,
            canRetry: true,
          }),
        )
        return
      }
      if (throttle === undefined) done(null)
      else throttle.release(done, size)
    })
    if (outcome === 'appended') return
    if (outcome === 'local') {
      this.counters.localOnly++
      if (throttle === undefined) done(null)
      else throttle.release(done, size)
      return
    }
    throttle?.settle(size)
    this.counters.refusedUpstreamTopic++
    if (this.logged.upstreamTopic.first(msg.origin)) {
      this.log.warn(
        {
          client: msg.origin,
          topic: msg.topic,
          upstream: outcome.upstream,
          upstreamTopic: outcome.topic,
          problem: outcome.problem,
        },
        'publish refused: its upstream topic would be invalid',
      )
    }
    done(
      new GatewayError(
        'OUTPOST_PUBLISH_UPSTREAM_TOPIC_INVALID',
        `topic upstream not valid: ${outcome.problem}`,
      ),
    )
  }
}

function payloadLength(packet: PublishPacket): number {
  const p = packet.payload as Buffer | string
  return p.length
}
