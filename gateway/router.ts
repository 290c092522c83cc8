// Routes map local topics to upstreams (DESIGN.md "Route"). A message that matches no route stays
// local. With no routes configured, everything except "$" topics goes to every upstream under its own
// topic — including upstreams added later, since such records are stored as "all".
//
// A rendered upstream topic must be one the upstream takes (issue #7, item 5): for MQTT, not empty, no
// "+" or "#", at most 65,535 bytes, none of the characters config/topic-chars.ts refuses; for Kafka,
// Kafka's own rule. What the config fixes is checked at start-up; what comes from the message (an empty
// capture, a client id in {origin}) is checked here, per message, only where the template can produce
// it. A route's `invalidTopic` says what happens then: `refuse` (the publish is refused at the door) or
// `dead-letter` (stored unchanged; that upstream's forwarder dead-letters it).

import type { RouteConfig, UpstreamConfig } from '../config/schema.js'
import { kafkaTopicProblem, MAX_TOPIC_BYTES, mqttTopicProblem } from '../config/topic-chars.js'
import { captureCount, parseFilter, parseTemplate } from '../config/topic-pattern.js'
import type { Destination, Destinations } from '../store/record-codec.js'
import { compileFilter, compileTemplate, type Matcher, type Renderer } from './topic-match.js'

/** A message refused because its topic upstream would be invalid. */
export interface TopicRefusal {
  readonly refused: true
  readonly upstream: string
  readonly topic: string
  readonly problem: string
}

type TopicCheck = (topic: string) => string | undefined

interface Target {
  upstream: string
  /** Checks the rendered topic; undefined when it cannot be invalid. */
  check: TopicCheck | undefined
}

interface CompiledRoute {
  match: Matcher
  to: readonly Target[]
  topic: Renderer
  identityTopic: boolean
  key: Renderer | undefined
  refuse: boolean
}

/** Empty or too long: all a template without {origin} can get wrong (its text was checked at start-up). */
const emptyOrLong: TopicCheck = (topic) => {
  if (topic.length === 0) return 'empty topic'
  if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
    return `longer than ${MAX_TOPIC_BYTES} bytes`
  }
  return undefined
}

export class Router {
  private readonly routes: CompiledRoute[]
  /** Messages stored although a destination's topic is invalid (routes with invalidTopic: dead-letter). */
  readonly counters = { invalidTopicStored: 0 }

  constructor(
    routes: readonly RouteConfig[],
    gatewayId: string,
    upstreams: readonly Pick<UpstreamConfig, 'name' | 'type'>[] = [],
  ) {
    const kafka = new Set(upstreams.filter((u) => u.type === 'kafka').map((u) => u.name))
    this.routes = routes.map((r) => {
      const parsed = parseFilter(r.match)
      const captures = parsed.ok ? captureCount(parsed.value) : 0
      const identityTopic = r.topic === '{topic}'
      const template = parseTemplate(r.topic, captures, 'topic')
      const usesOrigin = template.ok && template.value.some((p) => p.kind === 'origin')
      // A publish topic was checked at the door: as its own topic it needs no check for MQTT.
      const mqttCheck = identityTopic ? undefined : usesOrigin ? mqttTopicProblem : emptyOrLong
      return {
        match: compileFilter(r.match, gatewayId),
        to: r.to.map((upstream) => ({
          upstream,
          check: kafka.has(upstream) ? kafkaTopicProblem : mqttCheck,
        })),
        topic: compileTemplate(r.topic, captures, gatewayId),
        identityTopic,
        key: r.key === undefined ? undefined : compileTemplate(r.key, captures, gatewayId, 'key'),
        refuse: r.invalidTopic !== 'dead-letter',
      }
    })
  }

  /** Where a message goes, undefined when it stays local, or why it is refused. */
  route(topic: string, origin: string): Destinations | TopicRefusal | undefined {
    if (this.routes.length === 0) return topic.startsWith('$') ? undefined : 'all'
    let out: Destination[] | undefined
    let invalid = false
    for (const r of this.routes) {
      const captures = r.match(topic)
      if (captures === undefined) continue
      const ctx = { topic, origin, captures }
      for (const { upstream, check } of r.to) {
        // The first route that sends a message to an upstream decides its topic and key there.
        if (out?.some((d) => d.upstream === upstream)) continue
        const target = r.identityTopic ? topic : r.topic(ctx)
        const problem = check?.(target)
        if (problem !== undefined) {
          // A topic too long for the outbox's record cannot be stored unchanged either.
          if (r.refuse || Buffer.byteLength(target) > MAX_TOPIC_BYTES) {
            return { refused: true, upstream, topic: target, problem }
          }
          invalid = true
        }
        out ??= []
        out.push({ upstream, topic: target === topic ? undefined : target, key: r.key?.(ctx) })
      }
    }
    if (invalid) this.counters.invalidTopicStored++
    return out
  }
}

export function isRefusal(r: Destinations | TopicRefusal | undefined): r is TopicRefusal {
  return typeof r === 'object' && 'refused' in r
}
