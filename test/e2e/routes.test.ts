// Routes end to end (issue #12): two upstreams, each on a mosquitto of its own, with disjoint routes and
// a topic template each. Every sink gets exactly the readings routed to its upstream, in order, under
// the topic its route renders; a reading routed to both reaches both; a reading that matches no route
// reaches neither.
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

const READINGS = 40

function upstream(name: string, url: string): Record<string, unknown> {
  return { name, type: 'mqtt', url, reconnect: { minMs: 50, maxMs: 300 }, connectTimeoutMs: 2000 }
}

describe.runIf(haveMosquitto())('routes to two upstreams', () => {
  const clouds: Cloud[] = []
  let gateway: GatewayProcess | undefined
  let device: MqttClient | undefined
  afterAll(async () => {
    await device?.endAsync(true)
    await gateway?.kill9()
    for (const c of clouds) await c.close()
  })

  it('each sink gets only its routes’ readings, in order, under the topic its template renders', async () => {
    const dir = tempDir()
    const east = await createCloud(join(dir, 'east'), true)
    clouds.push(east)
    const west = await createCloud(join(dir, 'west'), true)
    clouds.push(west)
    gateway = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), undefined, {
        upstreams: [upstream('east', east.url), upstream('west', west.url)],
        routes: [
          { match: 'sensors/+/temp', to: ['east'], topic: 'sites/{gatewayId}/east/{1}' },
          { match: 'sensors/+/humidity', to: ['west'], topic: 'west/{topic}' },
          { match: 'alarms/#', to: ['east', 'west'] },
        ],
      }),
    )

    // Interleaved, so each forwarder has the other's records between its own. The last reading of each
    // upstream comes after every reading of the other one: by the time it arrives, anything the
    // forwarder sent before it (in outbox order) has arrived too.
    device = await connectAsync(gateway.url, { clientId: 'dev-routes' })
    const expectedEast: string[] = []
    const expectedWest: string[] = []
    for (let i = 0; i < READINGS; i++) {
      const dev = `dev-${i % 3}`
      await device.publishAsync(`sensors/${dev}/temp`, `t-${i}`, { qos: 1 })
      expectedEast.push(`sites/gw-test/east/${dev} t-${i}`)
      await device.publishAsync(`sensors/${dev}/humidity`, `h-${i}`, { qos: 1 })
      expectedWest.push(`west/sensors/${dev}/humidity h-${i}`)
      await device.publishAsync(`local/${dev}/debug`, `local-${i}`, { qos: 1 }) // matches no route
      if (i % 10 === 9) {
        await device.publishAsync('alarms/door', `alarm-${i}`, { qos: 1 })
        expectedEast.push(`alarms/door alarm-${i}`)
        expectedWest.push(`alarms/door alarm-${i}`)
      }
    }
    await device.publishAsync('sensors/last/temp', 'end-east', { qos: 1 })
    expectedEast.push('sites/gw-test/east/last end-east')
    await device.publishAsync('sensors/last/humidity', 'end-west', { qos: 1 })
    expectedWest.push('west/sensors/last/humidity end-west')

    const seen = (cloud: Cloud) => cloud.sink.firstCopies().map((m) => `${m.topic} ${m.payload}`)
    for (const [name, cloud, marker] of [
      ['east', east, 'end-east'],
      ['west', west, 'end-west'],
    ] as const) {
      await cloud.sink.waitFor(
        () => cloud.sink.messages.some((m) => m.payload.toString() === marker),
        15_000,
        () => `${name}: ${cloud.sink.messages.length} messages, no "${marker}" yet`,
      )
    }
    expect(seen(east)).toEqual(expectedEast)
    expect(seen(west)).toEqual(expectedWest)
    expect(await gateway.stop()).toBe(0)
  })
})
