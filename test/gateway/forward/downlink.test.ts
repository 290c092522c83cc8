// The downlink against an upstream that refuses one of its subscriptions (an aedes broker in this
// process, over real TCP: mosquitto 2.0 grants every subscription and filters at delivery): the
// refusal is logged, the connection stays up, and the other filters keep delivering.
import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, expect, test } from 'vitest'
import { type RunningGateway, startGateway, until } from '../broker/harness.js'

let upstream: Aedes | undefined
let server: Server | undefined
let gateway: RunningGateway | undefined
let device: MqttClient | undefined
afterEach(async () => {
  await device?.endAsync(true)
  await gateway?.stop()
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()))
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
})

test('a filter the upstream refuses is logged; the others keep delivering on the same connection', async () => {
  const broker = await Aedes.createBroker({
    authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.startsWith('secret/') ? null : sub),
  })
  upstream = broker
  const srv = createServer((socket) => broker.handle(socket))
  server = srv
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  const port = (srv.address() as { port: number }).port

  gateway = await startGateway(
    {
      upstreams: [
        {
          name: 'cloud',
          type: 'mqtt',
          url: `mqtt://127.0.0.1:${port}`,
          protocolVersion: 4, // aedes speaks MQTT 3.1.1
          reconnect: { minMs: 50, maxMs: 300 },
        },
      ],
      downlink: [
        { from: 'cloud', match: 'secret/{gatewayId}/#', topic: 'cmd/secret/{2}', qos: 1 },
        { from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 },
      ],
    },
    { logLevel: 'info' },
  )
  const logs = gateway.logs
  expect(
    await until(() => logs.messages('warn').includes('downlink subscription refused')),
    'the refusal',
  ).toBe(true)

  device = await connectAsync(gateway.url, { clientId: 'valve-4' })
  const received: string[] = []
  device.on('message', (topic, payload) => received.push(`${topic} ${payload}`))
  await device.subscribeAsync('cmd/#', { qos: 1 })
  const deadline = Date.now() + 10_000
  while (!received.includes('cmd/valve/open open') && Date.now() < deadline) {
    await new Promise<void>((resolve, reject) =>
      broker.publish(
        {
          cmd: 'publish',
          topic: 'commands/gw-broker/valve/open',
          payload: Buffer.from('open'),
          qos: 1,
          retain: false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    )
    await new Promise((r) => setTimeout(r, 100))
  }
  expect(received).toContain('cmd/valve/open open')

  await new Promise((r) => setTimeout(r, 1000))
  // One downlink connection all along: the refusal did not make it reconnect.
  expect(logs.lines.filter((l) => l.msg === 'downlink connected')).toHaveLength(1)
  expect(logs.lines.filter((l) => l.msg === 'upstream connection failed' && 'downlink' in l)).toEqual([])
  expect((await gateway.gateway.status()).upstreams[0]).toMatchObject({ downlinkState: 'connected' })
})
