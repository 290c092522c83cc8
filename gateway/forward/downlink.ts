// Downlink: commands from an upstream to local devices. Each `downlink` entry of the config makes its
// upstream's connection subscribe to a filter; a matching message is republished on the local broker
// under the entry's template. Republished messages do not pass through authorizePublish, so they are
// never routed back up.
import type { MqttClient } from 'mqtt'
import type { DownlinkConfig } from '../../config/schema.js'
import { captureCount, parseFilter } from '../../config/topic-pattern.js'
import type { LocalMessage } from '../broker/broker.js'
import type { Logger } from '../logger.js'
import { compileFilter, compileTemplate, type Matcher, type Renderer } from '../topic-match.js'

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

export class Downlink {
  private readonly entries: Entry[]
  readonly counters: DownlinkCounters = { downlinkReceived: 0, downlinkDelivered: 0, downlinkFailed: 0 }

  constructor(
    private readonly upstream: string,
    config: readonly DownlinkConfig[],
    gatewayId: string,
    private readonly publishLocal: ((msg: LocalMessage) => Promise<void>) | undefined,
    private readonly log: Logger,
  ) {
    this.entries = config
      .filter((d) => d.from === upstream)
      .map((d) => {
        const parsed = parseFilter(d.match)
        const captures = parsed.ok ? captureCount(parsed.value) : 0
        return {
          filter: d.match.replaceAll('{gatewayId}', gatewayId),
          qos: d.qos,
          match: compileFilter(d.match, gatewayId),
          topic: compileTemplate(d.topic, captures, gatewayId),
        }
      })
  }

  /** Subscribes a freshly connected (clean-session) client and republishes what it receives. */
  attach(client: MqttClient): void {
    if (this.entries.length === 0) return
    const subs = Object.fromEntries(this.entries.map((d) => [d.filter, { qos: d.qos }]))
    client.subscribe(subs, (err) => {
      if (err) this.log.warn({ err: err.message }, 'downlink subscription failed')
    })
    client.on('message', (topic, payload, packet) => this.deliver(topic, payload, packet.retain))
  }

  private deliver(topic: string, payload: Buffer, retain: boolean): void {
    this.counters.downlinkReceived++
    const entry = this.entries.find((d) => d.match(topic) !== undefined)
    const publishLocal = this.publishLocal
    if (!entry || !publishLocal) return
    const target = entry.topic({ topic, origin: this.upstream, captures: entry.match(topic) ?? [] })
    publishLocal({ topic: target, payload, qos: entry.qos, retain }).then(
      () => this.counters.downlinkDelivered++,
      (err: Error) => {
        this.counters.downlinkFailed++
        this.log.warn({ err: err.message, topic: target }, 'downlink delivery failed')
      },
    )
  }
}
