// What the config refuses for Kafka upstreams (issue #8, config/kafka-checks.ts): a route whose topic can
// never be a legal Kafka topic name, a Kafka upstream with no routes at all, zstd where this Node.js has
// none — each at its path, saying what would be valid.
import { describe, expect, test } from 'vitest'
import { zstdAvailable } from '../../config/kafka-checks.js'
import { parseConfigText } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { messageAt, pathsOf, problemsOf } from '../helpers/config.js'

const UPSTREAMS = `upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://cloud.example:1883" }
  - { name: lake, type: kafka, brokers: ["kafka1:9092"] }
`

function parse(text: string): Config {
  return parseConfigText(text, 'kafka.yaml', { env: {}, defaultGatewayId: 'gw-test' })
}

describe('a route to a Kafka upstream', () => {
  test('the default {topic} of a filter of 2+ levels is refused at routes[i].topic: it always has a "/"', () => {
    const problems = problemsOf(() =>
      parse(`${UPSTREAMS}routes:
  - { match: "meters/#", to: [lake], topic: meters }
  - { match: "alarms/+", to: [cloud] }
  - { match: "sensors/+/telemetry", to: [lake], key: "{1}" }`),
    )
    expect(pathsOf(problems)).toEqual(['routes[2].topic'])
    const message = messageAt(problems, 'routes[2].topic')
    expect(message).toMatch(/^"\{topic\}" for Kafka upstream "lake" can never be a legal Kafka topic name/)
    expect(message).toContain('always contains "/"')
    expect(message).toContain('letters, digits, ".", "_" and "-"')
    expect(message).toContain('give it a Kafka topic name such as "telemetry"')
  })

  test('a route to an MQTT and a Kafka upstream with an MQTT-style topic is told to split', () => {
    const problems = problemsOf(() =>
      parse(`gatewayId: pi-barn
${UPSTREAMS}routes:
  - { match: "sensors/+/telemetry", to: [cloud, lake], topic: "sites/{gatewayId}/{topic}", key: "{1}" }`),
    )
    expect(messageAt(problems, 'routes[0].topic')).toMatch(
      /^"sites\/\{gatewayId\}\/\{topic\}" for Kafka upstream "lake" can never be .*; split the route: one for "cloud" with this topic, one for "lake" with a Kafka topic name such as "telemetry"$/,
    )
  })

  test('illegal literal text, a gateway id that makes every name too long, and "." are refused', () => {
    const long = `g${'x'.repeat(127)}`
    const problems = problemsOf(() =>
      parse(`gatewayId: ${long}
${UPSTREAMS}routes:
  - { match: "a/+", to: [lake], topic: "tele:{1}" }
  - { match: "b/+", to: [lake], topic: "{gatewayId}.{gatewayId}" }
  - { match: "c/+", to: [lake], topic: "." }`),
    )
    expect(pathsOf(problems)).toEqual(['routes[0].topic', 'routes[1].topic', 'routes[2].topic'])
    expect(messageAt(problems, 'routes[0].topic')).toContain('always contains ":"')
    expect(messageAt(problems, 'routes[1].topic')).toContain('at least 257 characters (at most 249)')
    expect(messageAt(problems, 'routes[2].topic')).toContain('"." is not a legal Kafka topic name')
  })

  test('templates that can render a legal name pass: literals, captures, {gatewayId}, {origin}, {topic} of one level', () => {
    const config = parse(`gatewayId: pi-barn
${UPSTREAMS}routes:
  - { match: "sensors/+/telemetry", to: [cloud], topic: "sites/{gatewayId}/{topic}" }
  - { match: "sensors/+/telemetry", to: [lake], topic: "telemetry", key: "{1}" }
  - { match: "meters/+", to: [lake], topic: "site.{gatewayId}.meter-{1}" }
  - { match: "+", to: [lake] }
  - { match: "status/#", to: [lake], topic: "{origin}" }`)
    expect(config.routes).toHaveLength(5)
  })

  test('an MQTT-only route keeps its "/" topics', () => {
    const config = parse(`${UPSTREAMS}routes:
  - { match: "sensors/#", to: [cloud] }
  - { match: "meters/#", to: [lake], topic: meters }`)
    expect(config.routes.map((r) => r.topic)).toEqual(['{topic}', 'meters'])
  })
})

describe('a Kafka upstream with no routes', () => {
  test('is refused at the upstream, saying what to add', () => {
    const problems = problemsOf(() => parse(UPSTREAMS))
    expect(pathsOf(problems)).toEqual(['upstreams[1]'])
    const message = messageAt(problems, 'upstreams[1]')
    expect(message).toMatch(/^Kafka upstream "lake" with no routes: /)
    expect(message).toContain('a Kafka topic name cannot contain "/"')
    expect(message).toContain(
      'Add a route with a Kafka topic name, e.g. routes: [{ match: "sensors/+/telemetry", to: [lake], topic: "telemetry", key: "{1}" }]',
    )
  })

  test('an MQTT upstream alone needs no route, and a Kafka upstream no route of its own once there are routes', () => {
    expect(parse('upstreams:\n  - { name: cloud, type: mqtt, url: "mqtt://h" }').routes).toEqual([])
    expect(parse(`${UPSTREAMS}routes:\n  - { match: "#", to: [cloud] }`).upstreams).toHaveLength(2)
  })
})

describe('compression: zstd', () => {
  const ZSTD = `upstreams:
  - { name: lake, type: kafka, brokers: ["kafka1:9092"], compression: zstd }
routes:
  - { match: "sensors/+/telemetry", to: [lake], topic: telemetry }`

  test.runIf(!zstdAvailable())(
    'without zstd in node:zlib (Node.js < 22.15): refused at its path, with the codecs that work',
    () => {
      const problems = problemsOf(() => parse(ZSTD))
      expect(messageAt(problems, 'upstreams[0].compression')).toBe(
        `zstd needs Node.js ≥ 22.15 (node:zlib zstd); this is Node.js ${process.versions.node}. Use lz4, snappy, gzip or none, or run Outpost on a newer Node.js`,
      )
    },
  )

  test.runIf(zstdAvailable())('with zstd in node:zlib: accepted', () => {
    expect(parse(ZSTD).upstreams[0]).toMatchObject({ compression: 'zstd' })
  })

  test('every other codec is accepted on any Node.js', () => {
    for (const codec of ['none', 'gzip', 'snappy', 'lz4']) {
      expect(parse(ZSTD.replace('zstd', codec)).upstreams[0]).toMatchObject({ compression: codec })
    }
  })
})
