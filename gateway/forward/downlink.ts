// Downlink: commands from an upstream to local devices. Each `downlink` entry of the config subscribes
// its upstream to a filter; a matching message is republished on the local broker under the entry's
// template. Republished messages do not pass through authorizePublish, so they are never routed back up.
//
// The downlink has a connection of its own, with a persistent session (clean: false; on MQTT 5 a
// session expiry of `downlinkSessionExpirySec`): while the gateway is away the upstream broker keeps
// its subscriptions and queues the commands sent meanwhile (QoS 1/2), and delivers them when it is back.
// The uplink cannot share that session: it resends from the outbox with fresh packet ids, which a
// broker holding the old session's QoS 2 state would take for retransmissions and drop. A command is
// acknowledged upstream only once the local broker has it, so a gateway that dies in between gets it
// again. Upstream, the downlink subscribes at QoS 1 at most (see upstreamQos).
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt'
import type { DownlinkConfig, MqttUpstreamConfig } from '../../config/schema.js'
import { captureCount, parseFilter } from '../../config/topic-pattern.js'
import type { LocalMessage } from '../broker/broker.js'
import type { Logger } from '../logger.js'
import { compileFilter, compileTemplate, type Matcher, type Renderer } from '../topic-match.js'
import {
  type ConnectFn,
  type ConnectionState,
  clientOptions,
  connectMqtt,
  runConnections,
} from './mqtt-connection.js'

interface Entry {
  /** The filter as subscribed upstream ({gatewayId} filled in). */
  filter: string
  qos: 0 | 1 | 2
  match: Matcher
  topic: Renderer
}

export interface DownlinkCounters {
  downlinkReceived: number
  downlinkDelivered: number
  downlinkFailed: number
}

export interface DownlinkStatus extends DownlinkCounters {
  /** 'off' when no downlink entry names this upstream. */
  downlinkState: ConnectionState | 'off'
  downlinkClientId: string | undefined
}

export interface DownlinkOptions {
  config: MqttUpstreamConfig
  /** Every downlink entry of the config; those from this upstream are used. */
  downlink: readonly DownlinkConfig[]
  gatewayId: string
  /** The uplink's client id; the downlink's is derived from it unless configured. */
  uplinkClientId: string
  publishLocal: ((msg: LocalMessage) => Promise<void>) | undefined
  connect: ConnectFn
  tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>
  logger: Logger
  random?: (() => number) | undefined
}

export class Downlink {
  private readonly entries: Entry[]
  private readonly clientId: string
  private readonly log: Logger
  private readonly stopController = new AbortController()
  private running: Promise<void> | undefined
  private state: ConnectionState = 'idle'
  readonly counters: DownlinkCounters = { downlinkReceived: 0, downlinkDelivered: 0, downlinkFailed: 0 }

  constructor(private readonly opts: DownlinkOptions) {
    const upstream = opts.config.name
    this.clientId = opts.config.downlinkClientId ?? `${opts.uplinkClientId}-downlink`
    this.log = opts.logger.child({ downlink: this.clientId })
    this.entries = opts.downlink
      .filter((d) => d.from === upstream)
      .map((d) => {
        const parsed = parseFilter(d.match)
        const captures = parsed.ok ? captureCount(parsed.value) : 0
        return {
          filter: d.match.replaceAll('{gatewayId}', opts.gatewayId),
          qos: d.qos,
          match: compileFilter(d.match, opts.gatewayId),
          topic: compileTemplate(d.topic, captures, opts.gatewayId),
        }
      })
  }

  get enabled(): boolean {
    return this.entries.length > 0
  }

  start(): void {
    if (!this.enabled || this.running) return
    const c = this.opts.config
    const v5 = c.protocolVersion === 5
    const options = clientOptions(c, this.opts.tls, {
      clientId: this.clientId,
      clean: false,
      ...(v5 ? { properties: { sessionExpiryInterval: c.downlinkSessionExpirySec } } : {}),
    })
    this.running = runConnections(
      {
        config: c,
        log: this.log,
        random: this.opts.random,
        connect: async (stop) =>
          (
            await connectMqtt(this.opts.connect, c.url, options, stop, (client) => {
              // The PUBACK upstream waits for this callback: the command is on the local broker
              // first. Set before CONNACK: queued commands follow it at once.
              client.handleMessage = (packet, done) => this.deliver(client, packet, done)
            })
          ).client,
        session: (client, stop) => this.session(client, stop),
        onState: (state) => {
          this.state = state
        },
        onError: () => undefined, // logged by runConnections
      },
      this.stopController.signal,
    ).catch((err: unknown) => this.log.error({ err }, 'downlink stopped on an unexpected error'))
  }

  async stop(): Promise<void> {
    this.stopController.abort(new Error('downlink stopped'))
    await this.running
  }

  status(): DownlinkStatus {
    return {
      ...this.counters,
      downlinkState: this.enabled ? this.state : 'off',
      downlinkClientId: this.enabled ? this.clientId : undefined,
    }
  }

  /**
   * Subscribes (again: a changed config must take effect, and on MQTT 5 a subscription the session
   * already holds does not resend retained messages), then delivers until the connection ends.
   */
  private async session(client: MqttClient, stop: AbortSignal): Promise<void> {
    const ended = new AbortController()
    const end = (reason: Error) => {
      if (!ended.signal.aborted) ended.abort(reason)
    }
    let lastError: Error | undefined
    const onError = (err: Error) => {
      lastError = err
    }
    const onClose = () => end(lastError ?? new Error('connection closed'))
    const onStop = () => end(new Error('stopped'))
    client.on('error', onError)
    client.on('close', onClose)
    stop.addEventListener('abort', onStop, { once: true })
    try {
      if (stop.aborted) return
      await Promise.race([this.subscribe(client), aborted(ended.signal)])
      if (!ended.signal.aborted)
        this.log.info({ filters: this.entries.map((d) => d.filter) }, 'downlink connected')
      await aborted(ended.signal)
    } finally {
      stop.removeEventListener('abort', onStop)
      client.removeListener('close', onClose)
      client.removeListener('error', onError)
    }
    if (!stop.aborted) throw ended.signal.reason
  }

  /** Subscribes every entry; a filter the upstream refuses is logged, the others stay. */
  private subscribe(client: MqttClient): Promise<void> {
    const v5 = this.opts.config.protocolVersion === 5
    const subs = Object.fromEntries(
      this.entries.map((d) => [d.filter, { qos: upstreamQos(d.qos), ...(v5 ? { rh: 1 } : {}) }]),
    )
    return new Promise((resolve) => {
      client.subscribe(subs, (err) => {
        // mqtt.js fails the whole SUBACK when any filter was refused; the rest are subscribed.
        if (err)
          this.log.warn({ err: err.message, filters: Object.keys(subs) }, 'downlink subscription refused')
        resolve()
      })
    })
  }

  private deliver(client: MqttClient, packet: IPublishPacket, done: (err?: Error) => void): void {
    this.counters.downlinkReceived++
    const topic = packet.topic
    const entry = this.entries.find((d) => d.match(topic) !== undefined)
    const publishLocal = this.opts.publishLocal
    if (!entry || !publishLocal) {
      done() // not ours to deliver (a filter overlap upstream): acknowledge and drop
      return
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    const target = entry.topic({ topic, origin: this.opts.config.name, captures: entry.match(topic) ?? [] })
    publishLocal({ topic: target, payload, qos: entry.qos, retain: packet.retain }).then(
      () => {
        this.counters.downlinkDelivered++
        done()
      },
      (err: Error) => {
        this.counters.downlinkFailed++
        this.log.warn({ err: err.message, topic: target }, 'downlink delivery failed: reconnecting')
        // Not acknowledged. The broker resends it only on a new connection (the session keeps it).
        done(err)
        client.end(true)
      },
    )
  }
}

/**
 * The QoS the downlink subscribes with upstream: at most 1. mqtt.js sends PUBREC for a QoS 2 message
 * before the application sees it (on PUBREL) and keeps it only in memory, so a command received at
 * QoS 2 could be lost between the two; at QoS 1 the PUBACK waits for local delivery. Devices still
 * get the entry's QoS from the local broker.
 */
function upstreamQos(qos: 0 | 1 | 2): 0 | 1 {
  return qos === 0 ? 0 : 1
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
