// The config checks only Kafka upstreams need (issue #8: check-config rejects what a Kafka upstream can
// never take), run from the schema's checkReferences, so `outpost start` refuses the same configs:
//
//   routes[i].topic        a route to a Kafka upstream whose topic template can never render a legal
//                          Kafka topic name (config/kafka-topic.ts) — the default "{topic}" of a filter
//                          of two levels or more always has a "/": every reading would be dead-lettered
//   upstreams[i]           a Kafka upstream while no route is configured: then every reading goes to
//                          every upstream under its MQTT topic, and a Kafka topic name has no "/"
//   upstreams[i].compression  zstd where node:zlib has none (Node.js < 22.15; @platformatic/kafka takes
//                          its zstd from there): found where the config is checked, with the codecs that
//                          work — check-config runs on the Node.js that runs the gateway
//
// Like checkReferences it sees a partly parsed config (it runs when other parts are invalid too): every
// access is defensive, and what is malformed is left to the schema's own message.
import zlib from 'node:zlib'
import type { z } from 'zod'
import { kafkaTopicTemplateProblem } from './kafka-topic.js'

type Loose = Record<string, unknown>
const obj = (v: unknown): Loose => (typeof v === 'object' && v !== null ? (v as Loose) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** Whether this Node.js can compress with zstd (node:zlib, Node.js ≥ 22.15), as the Kafka library asks. */
export function zstdAvailable(): boolean {
  return typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'
}

export function checkKafka(config: unknown, ctx: z.RefinementCtx): void {
  const root = obj(config)
  const upstreams = Array.isArray(root.upstreams) ? (root.upstreams as unknown[]) : []
  const routes = Array.isArray(root.routes) ? (root.routes as unknown[]) : undefined
  const kafka = new Set<string>()
  upstreams.forEach((raw, i) => {
    const u = obj(raw)
    if (u.type !== 'kafka') return
    const name = str(u.name)
    if (name !== undefined) kafka.add(name)
    if (routes !== undefined && routes.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i],
        message: `Kafka upstream${name === undefined ? '' : ` "${name}"`} with no routes: without routes every reading goes to every upstream under its MQTT topic, and a Kafka topic name cannot contain "/" (every such reading would be dead-lettered). Add a route with a Kafka topic name, e.g. routes: [{ match: "sensors/+/telemetry", to: [${name ?? 'NAME'}], topic: "telemetry", key: "{1}" }]`,
      })
    }
    if (u.compression === 'zstd' && !zstdAvailable()) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'compression'],
        message: `zstd needs Node.js ≥ 22.15 (node:zlib zstd); this is Node.js ${process.versions.node}. Use lz4, snappy, gzip or none, or run Outpost on a newer Node.js`,
      })
    }
  })
  if (kafka.size === 0 || routes === undefined) return

  const gatewayId = str(root.gatewayId)
  routes.forEach((raw, i) => {
    const r = obj(raw)
    const match = str(r.match)
    const to = Array.isArray(r.to)
      ? (r.to as unknown[]).filter((t): t is string => typeof t === 'string')
      : []
    const toKafka = to.filter((t) => kafka.has(t))
    if (match === undefined || toKafka.length === 0) return
    const template = str(r.topic) ?? '{topic}'
    const problem = kafkaTopicTemplateProblem(template, match, gatewayId)
    if (problem === undefined) return
    const names = toKafka.map((t) => `"${t}"`).join(', ')
    const others = to.filter((t) => !kafka.has(t))
    const fix =
      others.length > 0
        ? `split the route: one for ${others.map((t) => `"${t}"`).join(', ')} with this topic, one for ${names} with a Kafka topic name such as "telemetry"`
        : 'give it a Kafka topic name such as "telemetry" or "sites.{gatewayId}.telemetry" (captures such as {1} work too)'
    ctx.addIssue({
      code: 'custom',
      path: ['routes', i, 'topic'],
      message: `"${template}" for Kafka upstream ${names} ${problem}; ${fix}`,
    })
  })
}
