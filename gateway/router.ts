// Routes map local topics to upstreams (DESIGN.md "Route"). A message that matches no route stays
// local. With no routes configured, everything except "$" topics goes to every upstream under its own
// topic — including upstreams added later, since such records are stored as "all".

import type { RouteConfig } from '../config/schema.js'
import { captureCount, parseFilter } from '../config/topic-pattern.js'
import type { Destination, Destinations } from '../store/record-codec.js'
import { compileFilter, compileTemplate, type Matcher, type Renderer } from './topic-match.js'

interface CompiledRoute {
  match: Matcher
  to: readonly string[]
  topic: Renderer
  identityTopic: boolean
  key: Renderer | undefined
}

export class Router {
  private readonly routes: CompiledRoute[]

  constructor(routes: readonly RouteConfig[], gatewayId: string) {
    this.routes = routes.map((r) => {
      const parsed = parseFilter(r.match)
      const captures = parsed.ok ? captureCount(parsed.value) : 0
      return {
        match: compileFilter(r.match, gatewayId),
        to: r.to,
        topic: compileTemplate(r.topic, captures, gatewayId),
        identityTopic: r.topic === '{topic}',
        key: r.key === undefined ? undefined : compileTemplate(r.key, captures, gatewayId, 'key'),
      }
    })
  }

  /** Where a message goes, or undefined when it stays local. */
  route(topic: string, origin: string): Destinations | undefined {
    if (this.routes.length === 0) return topic.startsWith('$') ? undefined : 'all'
    let out: Destination[] | undefined
    for (const r of this.routes) {
      const captures = r.match(topic)
      if (captures === undefined) continue
      const ctx = { topic, origin, captures }
      for (const upstream of r.to) {
        // The first route that sends a message to an upstream decides its topic and key there.
        if (out?.some((d) => d.upstream === upstream)) continue
        const target = r.identityTopic ? topic : r.topic(ctx)
        out ??= []
        out.push({ upstream, topic: target === topic ? undefined : target, key: r.key?.(ctx) })
      }
    }
    return out
  }
}
