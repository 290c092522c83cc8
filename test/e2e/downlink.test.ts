// Issue #3: a command published upstream on a downlink topic reaches a local subscriber, under the
// local topic the template gives; commands for another gateway do not, and nothing loops back up.
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('downlink', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  let device: MqttClient | undefined
  let commander: MqttClient | undefined
  afterAll(async () => {
    await device?.endAsync(true)
    await commander?.endAsync(true)
    await gateway?.kill9()
    await cloud?.close()
  })

  it('republishes cloud commands on the local broker for subscribed devices', async () => {
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    gateway = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        downlink: [{ from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 }],
        routes: [{ match: 'sensors/#', to: ['cloud'] }],
      }),
    )
    await gateway.waitForLog((l) => l.msg === 'upstream connected')

    device = await connectAsync(gateway.url, { clientId: 'valve-1' })
    const received: Array<{ topic: string; payload: string; qos: number }> = []
    device.on('message', (topic, payload, packet) =>
      received.push({ topic, payload: payload.toString(), qos: packet.qos }),
    )
    await device.subscribeAsync('cmd/#', { qos: 1 })

    commander = await connectAsync(cloud.url, { clientId: 'cloud-app', protocolVersion: 5 })
    await commander.publishAsync('commands/other-gateway/valve/open', 'not for us', { qos: 1 })
    // The gateway subscribes right after it connects; resend until the first command gets through.
    const deadline = Date.now() + 10_000
    while (!received.some((m) => m.payload === 'open') && Date.now() < deadline) {
      await commander.publishAsync('commands/gw-test/valve/open', 'open', { qos: 1 })
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(received.length).toBeGreaterThan(0)
    for (const m of received) expect(m).toEqual({ topic: 'cmd/valve/open', payload: 'open', qos: 1 })

    // A local reading still goes up; the downlinked command does not come back up.
    await device.publishAsync('sensors/valve-1/state', 'opened', { qos: 1 })
    await cloud.sink.waitFor(
      () => cloud?.sink.messages.some((m) => m.topic === 'sensors/valve-1/state') ?? false,
      10_000,
    )
    expect(cloud.sink.messages.filter((m) => m.topic.startsWith('cmd/'))).toEqual([])
    expect(await gateway.stop()).toBe(0)
  })
})
