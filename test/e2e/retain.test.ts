// The retain flag reaches the upstream (issue #12). A live subscriber cannot tell (a broker clears
// the flag on live delivery [MQTT-3.3.1-9]), so the test asks the cloud broker itself: once the
// readings were forwarded, a fresh subscriber to mosquitto gets the retained one as retained (and only
// that one).
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { collect, until } from '../gateway/broker/harness.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('retain', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  const clients: MqttClient[] = []
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true)
    await gateway?.kill9()
    await cloud?.close()
  })

  it('a retained reading is retained at the upstream broker; a plain one is not', async () => {
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    gateway = await GatewayProcess.start(dir, gatewayConfig(join(dir, 'data'), cloud.url))
    const device = await connectAsync(gateway.url, { clientId: 'dev-retain' })
    clients.push(device)
    await device.publishAsync('sensors/dev-1/state', 'on', { qos: 1, retain: true })
    await device.publishAsync('sensors/dev-1/telemetry', '21.5', { qos: 1, retain: false })
    const sink = cloud.sink
    await sink.waitFor(
      () => sink.messages.some((m) => m.topic === 'sensors/dev-1/telemetry'),
      15_000,
      () => `${sink.messages.length} messages forwarded`,
    )

    // mosquitto sends the retained messages right behind the SUBACK.
    const fresh = await connectAsync(cloud.url, { clientId: 'late-subscriber', protocolVersion: 5 })
    clients.push(fresh)
    const got = collect(fresh)
    await fresh.subscribeAsync('sensors/#', { qos: 1 })
    expect(await until(() => got.length > 0, 5_000), 'a retained message for a new subscriber').toBe(true)
    await new Promise((r) => setTimeout(r, 200)) // the rest of the retained burst, if any
    expect(got).toEqual([{ topic: 'sensors/dev-1/state', payload: 'on', qos: 1, retain: true }])
    expect(await gateway.stop()).toBe(0)
  })
})
