// The router: which upstreams a message goes to, under which topic and key.
import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../config/load.js'
import type { RouteConfig } from '../../config/schema.js'
import { Router } from '../../gateway/router.js'

const GW = 'pi-barn-01'

function route(
  match: string,
  to: string[],
  topic = '{topic}',
  key?: string,
  invalidTopic: RouteConfig['invalidTopic'] = 'refuse',
): RouteConfig {
  return key === undefined ? { match, to, topic, invalidTopic } : { match, to, topic, key, invalidTopic }
}

describe('Router without routes', () => {
  const router = new Router([], GW)

  test('sends every message to all upstreams', () => {
    expect(router.route('sensors/s1/telemetry', 'client-1')).toBe('all')
    expect(router.route('a', '')).toBe('all')
    expect(router.route('', '')).toBe('all')
  })

  test('keeps "$" topics local', () => {
    expect(router.route('$SYS/broker/uptime', 'client-1')).toBeUndefined()
    expect(router.route('$share/x', 'client-1')).toBeUndefined()
  })
})

describe('Router with routes', () => {
  // The routes of config/example.yaml, as the loader hands them over (defaults filled in).
  const config = parseConfigText(
    `gatewayId: ${GW}
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://h" }
  - { name: lake, type: kafka, brokers: ["k:9092"] }
routes:
  - { match: "sensors/+/telemetry", to: [cloud], topic: "sites/{gatewayId}/{topic}" }
  - { match: "sensors/+/telemetry", to: [lake], topic: "telemetry", key: "{1}" }
  - { match: "sensors/+/alarm", to: [cloud], topic: "alarms/{gatewayId}/{1}" }
  - { match: "meters/#", to: [lake], topic: "meter-readings", key: "{gatewayId}" }
  - { match: "raw/#", to: [cloud] }`,
    'routes.yaml',
    { env: {} },
  )
  const router = new Router(config.routes, config.gatewayId, config.upstreams)

  test('a message goes to the upstreams of the routes it matches, with topic and key rendered', () => {
    expect(router.route('sensors/s1/telemetry', 'client-1')).toEqual([
      { upstream: 'cloud', topic: 'sites/pi-barn-01/sensors/s1/telemetry', key: undefined },
      { upstream: 'lake', topic: 'telemetry', key: 's1' },
    ])
    expect(router.route('sensors/s1/alarm', 'client-1')).toEqual([
      { upstream: 'cloud', topic: 'alarms/pi-barn-01/s1', key: undefined },
    ])
    expect(router.route('meters/main/reading', 'meter')).toEqual([
      { upstream: 'lake', topic: 'meter-readings', key: 'pi-barn-01' },
    ])
  })

  test('the topic is omitted when it is the message topic itself', () => {
    expect(router.route('raw/x/y', 'c')).toEqual([{ upstream: 'cloud', topic: undefined, key: undefined }])
  })

  test('a message matching no route stays local (undefined)', () => {
    expect(router.route('sensors/s1/debug', 'client-1')).toBeUndefined()
    expect(router.route('sensors/s1/telemetry/extra', 'client-1')).toBeUndefined()
    expect(router.route('other', 'client-1')).toBeUndefined()
    expect(router.route('$SYS/x', 'client-1')).toBeUndefined()
  })
})

describe('Router: several matching routes', () => {
  test('the first route that sends to an upstream decides its topic and key there; later routes add upstreams', () => {
    const router = new Router(
      [
        route('a/#', ['cloud'], 'first/{1}', 'k1'),
        route('a/b', ['cloud', 'lake'], 'second', 'k2'),
        route('+/b', ['lake', 'archive'], 'third/{1}', '{origin}'),
      ],
      'gw',
    )
    expect(router.route('a/b', 'dev-9')).toEqual([
      { upstream: 'cloud', topic: 'first/b', key: 'k1' },
      { upstream: 'lake', topic: 'second', key: 'k2' },
      { upstream: 'archive', topic: 'third/a', key: 'dev-9' },
    ])
    expect(router.route('a/c', 'dev-9')).toEqual([{ upstream: 'cloud', topic: 'first/c', key: 'k1' }])
    expect(router.route('x/b', 'dev-9')).toEqual([
      { upstream: 'lake', topic: 'third/x', key: 'dev-9' },
      { upstream: 'archive', topic: 'third/x', key: 'dev-9' },
    ])
  })

  test('a rendered topic equal to the message topic is omitted too', () => {
    const router = new Router([route('x/+', ['cloud'], 'x/{1}')], 'gw')
    expect(router.route('x/y', 'o')).toEqual([{ upstream: 'cloud', topic: undefined, key: undefined }])
  })

  test('{gatewayId} in a filter matches only this gateway, and "$" topics are never matched by "#"', () => {
    const router = new Router([route('site/{gatewayId}/#', ['cloud'], 'up/{2}'), route('#', ['lake'])], 'gw1')
    expect(router.route('site/gw1/t', 'o')).toEqual([
      { upstream: 'cloud', topic: 'up/t', key: undefined },
      { upstream: 'lake', topic: undefined, key: undefined },
    ])
    expect(router.route('site/gw2/t', 'o')).toEqual([{ upstream: 'lake', topic: undefined, key: undefined }])
    expect(router.route('$SYS/x', 'o')).toBeUndefined()
  })

  test('an invalid route is refused when the router is built', () => {
    expect(() => new Router([route('a/#/b', ['cloud'])], 'gw')).toThrow(/invalid topic filter/)
    expect(() => new Router([route('a/+', ['cloud'], 'x/{2}')], 'gw')).toThrow(/invalid template/)
  })
})

describe('Router: rendered upstream topics must be legal (issue #7, item 5)', () => {
  const upstreams = [
    { name: 'cloud', type: 'mqtt' as const },
    { name: 'lake', type: 'kafka' as const },
  ]

  test('{origin} with "+" or "#" (aedes accepts such client ids) is refused, naming the upstream and why', () => {
    const router = new Router([route('devices/+', ['cloud'], 'devices/{origin}/{1}')], 'gw', upstreams)
    expect(router.route('devices/t', 'dev-2')).toEqual([
      { upstream: 'cloud', topic: 'devices/dev-2/t', key: undefined },
    ])
    expect(router.route('devices/t', 'dev+1#')).toEqual({
      refused: true,
      upstream: 'cloud',
      topic: 'devices/dev+1#/t',
      problem: 'wildcard "+" or "#" in a topic name',
    })
    expect(router.route('devices/t', 'dev\u0001')).toMatchObject({ refused: true, problem: /control/ })
  })

  test('an empty capture that renders an empty topic is refused; an empty level is fine', () => {
    const router = new Router(
      [route('capture/+/x', ['cloud'], '{1}'), route('two/+/+', ['cloud'], '{1}/{2}')],
      'gw',
      upstreams,
    )
    expect(router.route('capture//x', 'd')).toMatchObject({ refused: true, problem: 'empty topic' })
    expect(router.route('two//', 'd')).toEqual([{ upstream: 'cloud', topic: '/', key: undefined }])
  })

  test('a rendered topic over 65,535 bytes is refused, even under dead-letter (it could not be stored)', () => {
    const router = new Router(
      [route('big/#', ['cloud'], 'prefix/{1}', undefined, 'dead-letter')],
      'gw',
      upstreams,
    )
    const long = `big/${'x'.repeat(65530)}`
    expect(router.route(long, 'd')).toMatchObject({ refused: true, problem: /65535/ })
  })

  test('a Kafka upstream gets Kafka topic names only: a capture with other characters is refused', () => {
    const router = new Router([route('sensors/+', ['lake'], '{1}')], 'gw', upstreams)
    expect(router.route('sensors/s-1.v2', 'd')).toEqual([
      { upstream: 'lake', topic: 's-1.v2', key: undefined },
    ])
    expect(router.route('sensors/with space', 'd')).toMatchObject({ refused: true, upstream: 'lake' })
    expect(router.route('sensors/..', 'd')).toMatchObject({ refused: true, upstream: 'lake' })
  })

  test('invalidTopic: dead-letter stores it unchanged for the upstream to dead-letter, and counts it', () => {
    const router = new Router(
      [route('devices/+', ['cloud', 'lake'], 'devices/{origin}/{1}', undefined, 'dead-letter')],
      'gw',
      [{ name: 'cloud', type: 'mqtt' }],
    )
    expect(router.route('devices/t', 'dev+1#')).toEqual([
      { upstream: 'cloud', topic: 'devices/dev+1#/t', key: undefined },
      { upstream: 'lake', topic: 'devices/dev+1#/t', key: undefined },
    ])
    expect(router.counters.invalidTopicStored).toBe(1)
  })

  test('a message routed under its own topic to an MQTT upstream needs no check: it was checked at the door', () => {
    const router = new Router([route('#', ['cloud'])], 'gw', upstreams)
    expect(router.route('a/b', 'dev+1#')).toEqual([{ upstream: 'cloud', topic: undefined, key: undefined }])
  })
})
