// The downlink acknowledges a command upstream only once it is on the local broker (issue #12): while
// the local publish stalls or after it failed, no PUBACK goes upstream, so the cloud broker (Debian's
// mosquitto, persistent session) delivers the command again after the downlink reconnects, and a
// working local publish then gets it, and only then is it acknowledged.
//
// The downlink talks to mosquitto through a TCP proxy whose tap parses what the downlink sends: a
// PUBACK is seen as it leaves for the broker.
import { join } from 'node:path'
import { connectAsync, type MqttClient, connect as mqttConnect } from 'mqtt'
import { type Packet, parser } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import { validateConfig } from '../../../config/load.js'
import type { MqttUpstreamConfig } from '../../../config/schema.js'
import type { LocalMessage } from '../../../gateway/broker/broker.js'
import { Downlink } from '../../../gateway/forward/downlink.js'
import { createLogger } from '../../../gateway/logger.js'
import { Mosquitto } from '../../../scripts/ci/mosquitto.js'
import { haveMosquitto } from '../../helpers/e2e.js'
import { TcpProxy } from '../../helpers/tcp-proxy.js'
import { tempDir } from '../../helpers/tmp.js'
import { LogSink, until } from '../broker/harness.js'

const GATEWAY_ID = 'gw-dl'
const COMMAND_TOPIC = `commands/${GATEWAY_ID}/valve/open`

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

type LocalMode = 'stall' | 'fail' | 'ok'

interface Fixture {
  downlink: Downlink
  proxy: TcpProxy
  logs: LogSink
  /** What happened, in order: `local <payload>` (publishLocal called), `delivered <payload>`, `puback <conn>`. */
  events: string[]
  /** PUBACKs the downlink sent upstream, by proxy connection number. */
  pubacks: Array<{ connection: number; messageId: number | undefined }>
  setMode(mode: LocalMode): void
  commander: MqttClient
}

async function setUp(initial: LocalMode): Promise<Fixture> {
  const dir = tempDir()
  const mosquitto = await Mosquitto.start({ dir: join(dir, 'mosquitto') })
  cleanups.push(() => mosquitto.kill())

  const events: string[] = []
  const pubacks: Fixture['pubacks'] = []
  const parsers = new Map<number, ReturnType<typeof parser>>()
  const proxy = await TcpProxy.start(mosquitto.port, {
    onClientData: (connection, chunk) => {
      let p = parsers.get(connection)
      if (!p) {
        const fresh = parser({ protocolVersion: 5 })
        fresh.on('packet', (packet: Packet) => {
          if (packet.cmd !== 'puback') return
          pubacks.push({ connection, messageId: packet.messageId })
          events.push(`puback ${connection}`)
        })
        fresh.on('error', (err: Error) => events.push(`tap parse error: ${err.message}`))
        parsers.set(connection, fresh)
        p = fresh
      }
      p.parse(chunk)
    },
  })
  cleanups.push(() => proxy.close())

  let mode = initial
  const publishLocal = (msg: LocalMessage): Promise<void> => {
    const what = msg.payload.toString()
    events.push(`local ${what}`)
    if (mode === 'stall') return new Promise<void>(() => undefined) // a local broker that never answers
    if (mode === 'fail') {
      mode = 'ok' // once
      return Promise.reject(new Error('local broker refused the command'))
    }
    events.push(`delivered ${what}`)
    return Promise.resolve()
  }

  const config = validateConfig(
    {
      gatewayId: GATEWAY_ID,
      dataDir: dir,
      upstreams: [{ name: 'cloud', type: 'mqtt', url: proxy.url, reconnect: { minMs: 50, maxMs: 300 } }],
      downlink: [{ from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 }],
    },
    'downlink-ack-test.yaml',
    { env: {} },
  )
  const logs = new LogSink()
  const downlink = new Downlink({
    config: config.upstreams[0] as MqttUpstreamConfig,
    downlink: config.downlink,
    gatewayId: GATEWAY_ID,
    uplinkClientId: `outpost-${GATEWAY_ID}-cloud`,
    publishLocal,
    connect: mqttConnect,
    tls: {},
    logger: createLogger({ level: 'info', destination: logs }),
  })
  downlink.start()
  cleanups.push(() => downlink.stop())
  // In process, the log line is written before the session waits for commands: no pipe to race.
  expect(
    await until(() => logs.lines.some((l) => l.msg === 'downlink connected'), 10_000),
    'the downlink subscribed',
  ).toBe(true)

  const commander = await connectAsync(mosquitto.url, { clientId: 'cloud-app', protocolVersion: 5 })
  cleanups.push(() => commander.endAsync(true))
  return {
    downlink,
    proxy,
    logs,
    events,
    pubacks,
    setMode: (m) => {
      mode = m
    },
    commander,
  }
}

/** Cuts the downlink's connection and lets it reconnect, once it noticed. */
async function reconnect(f: Fixture): Promise<void> {
  f.proxy.cut()
  expect(
    await until(() => f.downlink.status().downlinkState !== 'connected', 10_000),
    'the downlink noticed the cut',
  ).toBe(true)
  f.proxy.restore()
}

/**
 * The outcome both tests want: the command came twice (the first copy was not acknowledged), was
 * delivered once, and only then acknowledged — never on the first connection. `failed`: local publishes
 * that failed.
 */
async function expectDeliveredThenAcked(f: Fixture, failed: number): Promise<void> {
  expect(
    await until(() => f.events.includes('delivered open') && f.pubacks.length > 0, 10_000),
    `the command was delivered on a later connection and acknowledged; events: ${f.events}`,
  ).toBe(true)
  expect(f.events).toEqual(['local open', 'local open', 'delivered open', expect.stringMatching(/^puback /)])
  expect(
    f.pubacks.every((p) => p.connection > 1),
    'no PUBACK on the first connection, where the local publish stalled or failed',
  ).toBe(true)
  expect(f.downlink.status()).toMatchObject({
    downlinkReceived: 2,
    downlinkDelivered: 1,
    downlinkFailed: failed,
  })
}

describe.runIf(haveMosquitto())('downlink acknowledges upstream only after the local publish', () => {
  test('a local publish that stalls: no PUBACK; the command comes again after a reconnect and is acknowledged once delivered', async () => {
    const f = await setUp('stall')
    await f.commander.publishAsync(COMMAND_TOPIC, 'open', { qos: 1 })
    expect(
      await until(() => f.events.includes('local open'), 10_000),
      'the command reached the downlink',
    ).toBe(true)
    // The local publish has not answered: nothing may have gone upstream. (An ack sent at once would
    // be here within a millisecond or two.)
    expect(await until(() => f.pubacks.length > 0, 1_000), `events: ${f.events}`).toBe(false)

    f.setMode('ok')
    await reconnect(f)
    await expectDeliveredThenAcked(f, 0)
  })

  test('a local publish that fails: no PUBACK on that connection; the redelivered command is delivered and then acknowledged', async () => {
    const f = await setUp('fail')
    await f.commander.publishAsync(COMMAND_TOPIC, 'open', { qos: 1 })
    await expectDeliveredThenAcked(f, 1)
    expect(f.logs.messages('warn')).toContain('downlink delivery failed: reconnecting')
  })
})
