// The retain flag reaches the upstream (issue #12). A live subscriber cannot tell (a broker clears
// the flag on live delivery [MQTT-3.3.1-9]), so the test asks the cloud broker itself: once the
// readings were forwarded, a fresh subscriber to mosquitto gets the retained one as retained (and only
// that one).
import { describe, expect, it } from 'vitest'
import { collect, until } from '../gateway/broker/harness.js'
import { cloudGatewayPerFile } from '../helpers/cloud-gateway.js'
import { haveMosquitto } from '../helpers/e2e.js'

describe.runIf(haveMosquitto())('retain', () => {
  const { start, connect } = cloudGatewayPerFile()

  it('a retained reading is retained at the upstream broker; a plain one is not', async () => {
    const { cloud, gateway } = await start()
    const device = await connect(gateway.url, { clientId: 'dev-retain' })
    await device.publishAsync('sensors/dev-1/state', 'on', { qos: 1, retain: true })
    await device.publishAsync('sensors/dev-1/telemetry', '21.5', { qos: 1, retain: false })
    const sink = cloud.sink
    await sink.waitFor(
      () => sink.messages.some((m) => m.topic === 'sensors/dev-1/telemetry'),
      15_000,
      () => `${sink.messages.length} messages forwarded`,
    )

    // mosquitto sends the retained messages right behind the SUBACK.
    const fresh = await connect(cloud.url, { clientId: 'late-subscriber', protocolVersion: 5 })
    const got = collect(fresh)
    await fresh.subscribeAsync('sensors/#', { qos: 1 })
    expect(await until(() => got.length > 0, 5_000), 'a retained message for a new subscriber').toBe(true)
    await new Promise((r) => setTimeout(r, 200)) // the rest of the retained burst, if any
    expect(got).toEqual([{ topic: 'sensors/dev-1/state', payload: 'on', qos: 1, retain: true }])
    expect(await gateway.stop()).toBe(0)
  })
})
