// Issue #10, item 3, end to end: "a reboot loses nothing local either". A device subscribes to its
// command topic with a persistent session (clean: false) on the gateway's broker and goes away; the
// gateway restarts on the same data dir — stopped and started, or killed with SIGKILL; a command is sent
// to the cloud broker (Debian's mosquitto) while the device is still away; the device comes back ~5 s
// later with the same client id and gets it. And a command already taken from the cloud (acknowledged
// upstream) and queued for the device survives a SIGKILL: the device gets it from the gateway's session
// store, not from the cloud again.
import { join } from 'node:path'
import { connect, connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { collect, type Received, sleep, until } from '../gateway/broker/harness.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

const DEVICE = 'valve-7'
const COMMAND = { topic: 'cmd/valve-7/open', payload: 'open', qos: 1, retain: false }

describe.runIf(haveMosquitto())('local sessions across gateway restarts', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  interface Setup {
    dir: string
    cloud: Cloud
    config: Record<string, unknown>
    commander: MqttClient
  }

  async function setUp(): Promise<Setup> {
    const dir = tempDir()
    const cloud = await createCloud(dir, true)
    cleanups.push(() => cloud.close())
    const config = gatewayConfig(join(dir, 'data'), cloud.url, {
      downlink: [{ from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 }],
      http: { enabled: true, host: '127.0.0.1', port: 0 },
    })
    const commander = await connectAsync(cloud.url, { clientId: 'cloud-app', protocolVersion: 5 })
    cleanups.push(() => commander.endAsync(true))
    return { dir, cloud, config, commander }
  }

  async function startGateway(s: Setup): Promise<GatewayProcess> {
    const gw = await GatewayProcess.start(s.dir, s.config)
    cleanups.push(() => gw.kill9())
    await gw.waitForLog((l) => l.msg === 'downlink connected')
    return gw
  }

  /** The device's session: subscribed at QoS 1, then a clean DISCONNECT. */
  async function subscribeAndLeave(gw: GatewayProcess): Promise<void> {
    const device = await connectAsync(gw.url, { clientId: DEVICE, clean: false })
    await device.subscribeAsync(`cmd/${DEVICE}/#`, { qos: 1 })
    await device.endAsync()
  }

  /** The device back with the same client id, collecting from the first packet after CONNACK on. */
  async function deviceBack(gw: GatewayProcess): Promise<Received[]> {
    const device = connect(gw.url, { clientId: DEVICE, clean: false, reconnectPeriod: 0 })
    cleanups.push(() => device.endAsync(true))
    const got = collect(device)
    await new Promise<void>((resolve, reject) => {
      device.once('connect', () => resolve())
      device.once('error', reject)
    })
    return got
  }

  /** The downlink's counters from /api/status. */
  async function downlink(gw: GatewayProcess): Promise<{ received: number; delivered: number }> {
    const upstream = (await gw.status()).upstreams[0]
    if (!upstream || !('downlinkReceived' in upstream)) throw new Error('no downlink in /api/status')
    return { received: upstream.downlinkReceived, delivered: upstream.downlinkDelivered }
  }

  it.each(['stop', 'kill -9'] as const)(
    'a persistent session survives a gateway %s: a command sent while the device is away is waiting when it comes back 5 s later',
    async (how) => {
      const s = await setUp()
      const first = await startGateway(s)
      await subscribeAndLeave(first)
      if (how === 'stop') expect(await first.stop()).toBe(0)
      else await first.kill9()

      const second = await startGateway(s)
      await s.commander.publishAsync(`commands/gw-test/${DEVICE}/open`, 'open', { qos: 1 })
      expect(
        await until(async () => (await downlink(second)).delivered >= 1, 10_000),
        'the downlink put the command on the local broker',
      ).toBe(true)

      await sleep(5000) // the device is still away
      const got = await deviceBack(second)
      expect(await until(() => got.length > 0, 5000), 'the queued command after CONNACK').toBe(true)
      expect(got).toEqual([COMMAND])
      expect(await second.stop()).toBe(0)
    },
  )

  it('a command taken from the cloud and queued for an away device survives kill -9 of the gateway', async () => {
    const s = await setUp()
    const first = await startGateway(s)
    await subscribeAndLeave(first)
    await s.commander.publishAsync(`commands/gw-test/${DEVICE}/open`, 'open', { qos: 1 })
    expect(
      await until(async () => (await downlink(first)).delivered >= 1, 10_000),
      'the downlink put the command on the local broker (and acknowledged it upstream)',
    ).toBe(true)
    await sleep(300) // the PUBACK on its way to mosquitto
    await first.kill9()

    const second = await startGateway(s)
    await sleep(5000)
    const got = await deviceBack(second)
    expect(await until(() => got.length > 0, 5000), 'the queued command after CONNACK').toBe(true)
    expect(got).toEqual([COMMAND])
    // From the gateway's own store: the cloud, which had its PUBACK, did not send it again.
    expect(await downlink(second)).toEqual({ received: 0, delivered: 0 })
    expect(await second.stop()).toBe(0)
  })
})
