// The config keys of issue #7's ingest work: broker.limits (and users[].limits overriding them),
// broker.maxPendingBytes and connectTimeoutMs, routes[].invalidTopic, and topic templates checked at
// start-up for what can be checked there: characters an upstream refuses, and Kafka topic names.
import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { limitsFor } from '../../gateway/broker/client-throttle.js'
import { messageAt, problemsOf } from '../helpers/config.js'

const HASH = 'scrypt$16384$8$1$DN/dOoKahSWj74z6kZxd/A==$wD6cBZb/NmQ47Vsn74dX938j+v7biH7wH6qdMHwc5p0='
const parse = (text: string): Config => parseConfigText(text, 'ingest.yaml', { env: {} })
const UPSTREAMS = `gatewayId: gw-test
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://cloud.example:1883" }
  - { name: lake, type: kafka, brokers: ["k:9092"] }
`

describe('broker.limits', () => {
  test('defaults: 1,000 messages and 1 MiB a second per client, a 2 s burst, disconnected after 10 s over', () => {
    const config = parse('')
    expect(config.broker.limits).toEqual({
      messagesPerSec: 1000,
      bytesPerSec: 2 ** 20,
      burstSec: 2,
      maxThrottledSec: 10,
    })
    expect(config.broker.maxPendingBytes).toBe(8 * 2 ** 20)
    expect(config.broker.connectTimeoutMs).toBe(30_000)
  })

  test("a user's limits override the broker's key by key; sizes may be strings; 0 means no limit", () => {
    const config = parse(`broker:
  limits: { messagesPerSec: 200, bytesPerSec: 256KiB }
  users:
    - { username: camera, passwordHash: "${HASH}", limits: { bytesPerSec: 4MiB } }
    - { username: bulk, passwordHash: "${HASH}", limits: { messagesPerSec: 0, maxThrottledSec: 0 } }
    - { username: plain, passwordHash: "${HASH}" }
`)
    const [camera, bulk, plain] = config.broker.users
    const defaults = config.broker.limits
    expect(limitsFor(defaults, camera?.limits)).toEqual({
      messagesPerSec: 200,
      bytesPerSec: 4 * 2 ** 20,
      burstSec: 2,
      maxThrottledSec: 10,
    })
    expect(limitsFor(defaults, bulk?.limits)).toMatchObject({ messagesPerSec: 0, maxThrottledSec: 0 })
    expect(limitsFor(defaults, plain?.limits)).toBe(defaults)
  })

  test('negative rates and unknown keys are refused with their path', () => {
    const problems = problemsOf(() =>
      parse(`broker:\n  limits: { messagesPerSec: -1, burstSec: 0, perSecond: 5 }\n`),
    )
    expect(problems.map((p) => p.path).sort()).toEqual([
      'broker.limits.burstSec',
      'broker.limits.messagesPerSec',
      'broker.limits.perSecond',
    ])
  })
})

describe('routes: upstream topics', () => {
  test('invalidTopic defaults to refuse; dead-letter is accepted', () => {
    const config = parse(`${UPSTREAMS}routes:
  - { match: "a/#", to: [cloud] }
  - { match: "b/#", to: [cloud], invalidTopic: dead-letter }
`)
    expect(config.routes.map((r) => r.invalidTopic)).toEqual(['refuse', 'dead-letter'])
    expect(
      messageAt(
        problemsOf(() => parse(`${UPSTREAMS}routes:\n  - { match: "a", to: [cloud], invalidTopic: drop }\n`)),
        'routes[0].invalidTopic',
      ),
    ).toMatch(/refuse.*dead-letter/)
  })

  test('a topic template with a character upstreams refuse (NUL, a control character) is refused', () => {
    const problems = problemsOf(() =>
      parse(`${UPSTREAMS}routes:
  - { match: "a/+", to: [cloud], topic: "x/\\u0000/{1}" }
  - { match: "b/+", to: [cloud], topic: "x/\\u0007/{1}" }
`),
    )
    expect(messageAt(problems, 'routes[0].topic')).toMatch(/NUL/)
    expect(messageAt(problems, 'routes[1].topic')).toMatch(/control character U\+0007/)
  })

  test('a route to Kafka needs a topic that can be a Kafka topic name', () => {
    const problems = problemsOf(() =>
      parse(`${UPSTREAMS}routes:
  - { match: "sensors/+/telemetry", to: [cloud, lake], topic: "sites/{gatewayId}/{topic}" }
  - { match: "sensors/+/alarm", to: [lake] }
  - { match: "meters/#", to: [lake], topic: ".." }
`),
    )
    // config/kafka-checks.ts says why and what would do (test/config/kafka-checks.test.ts has the rest).
    expect(messageAt(problems, 'routes[0].topic')).toMatch(
      /Kafka upstream "lake" can never be a legal Kafka topic name/,
    )
    expect(messageAt(problems, 'routes[1].topic')).toMatch(/always contains "\/"/)
    expect(messageAt(problems, 'routes[2].topic')).toMatch(/"\.\." is not a legal Kafka topic name/)
  })

  test('what only a message can make illegal for Kafka is left to routing: captures, "#" filters, {origin}', () => {
    const config = parse(`${UPSTREAMS}routes:
  - { match: "sensors/+/telemetry", to: [lake], topic: "telemetry.{1}", key: "{1}" }
  - { match: "meters/#", to: [lake], topic: "{topic}" }
  - { match: "+", to: [lake], topic: "dev-{origin}" }
`)
    expect(config.routes).toHaveLength(3)
  })
})
