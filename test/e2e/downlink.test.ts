// Issue #3: a command published upstream on a downlink topic reaches a local subscriber, under the
// local topic the template gives; commands for another gateway do not, and nothing loops back up.
// A command sent while the gateway's uplink is cut is queued in its downlink session and arrives once
// the link is back.
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from '../gateway/broker/harness.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('downlink', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  let device: MqttClient | undefined
  let commander: MqttClient | undefined
  let proxy: TcpProxy | undefined
  afterAll(async () => {
    await device?.endAsync(true)
    await commander?.endAsync(true)
    await gateway?.kill9()
    await proxy?.close()
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

  it.each([
    [5, 1],
    [4, 2],
  ] as const)(
    'MQTT %i, QoS %i: keeps commands sent while the uplink is cut, and delivers them when it is back',
    async (protocolVersion, qos) => {
      await device?.endAsync(true)
      await commander?.endAsync(true)
      await gateway?.kill9()
      await proxy?.close()
      await cloud?.close()
      const dir = tempDir()
      cloud = await createCloud(dir, true)
      proxy = await TcpProxy.start(cloud.port)
      const config = gatewayConfig(join(dir, 'data'), proxy.url, {
        downlink: [{ from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos }],
        http: { enabled: true, host: '127.0.0.1', port: 0 },
      })
      ;(config.upstreams as Array<Record<string, unknown>>)[0] = {
        ...(config.upstreams as Array<Record<string, unknown>>)[0],
        protocolVersion,
      }
      gateway = await GatewayProcess.start(dir, config)
      const gw = gateway
      // The downlink's state as /api/status reports it (polled: log lines arrive over a pipe, and a
      // queued command can reach the device before the line saying the downlink reconnected).
      const downlink = async () => {
        const upstream = (await gw.status()).upstreams[0]
        return upstream && 'downlinkState' in upstream ? upstream : undefined
      }
      await gw.waitForLog((l) => l.msg === 'downlink connected')

      device = await connectAsync(gw.url, { clientId: 'valve-2' })
      const received: string[] = []
      const qosSeen = new Set<number>()
      device.on('message', (_topic, payload, packet) => {
        received.push(payload.toString())
        qosSeen.add(packet.qos)
      })
      await device.subscribeAsync('cmd/#', { qos: 2 })
      commander = await connectAsync(cloud.url, { clientId: 'cloud-app-2', protocolVersion: 5 })
      await commander.publishAsync('commands/gw-test/valve/open', 'before', { qos })
      expect(await until(() => received.includes('before'), 10_000), 'the command sent before the cut').toBe(
        true,
      )

      proxy.cut()
      expect(
        await until(async () => (await downlink())?.downlinkState !== 'connected', 10_000),
        'the downlink to notice the cut',
      ).toBe(true)
      await commander.publishAsync('commands/gw-test/valve/close', 'during', { qos })
      await new Promise((r) => setTimeout(r, 300))
      expect(received).not.toContain('during')

      proxy.restore()
      expect(await until(() => received.includes('during'), 10_000), 'the command sent during the cut').toBe(
        true,
      )
      expect([...qosSeen]).toEqual([qos]) // the entry's QoS on the local broker
      // Connected again (it was not, after the cut), and both commands counted as delivered — at least
      // once: a PUBACK still on its way when the link was cut makes mosquitto send that command again.
      expect(
        await until(async () => {
          const d = await downlink()
          return d?.downlinkState === 'connected' && (d.downlinkDelivered ?? 0) >= 2
        }, 10_000),
        `the downlink reconnected and delivered both; status: ${JSON.stringify(await downlink())}`,
      ).toBe(true)
      expect(await downlink()).toMatchObject({ downlinkClientId: 'outpost-gw-test-cloud-downlink' })
      expect(await gw.stop()).toBe(0)
    },
  )
})
