// The forwarder contract (forwarder-contract.ts) for the MQTT forwarder, against a real mosquitto: an
// acl_file deny makes it refuse one topic for good (MQTT 5 PUBACK 0x87); a TCP proxy between the
// forwarder and mosquitto takes the sink away (cut: connections dropped, new ones refused) while the
// recording subscriber stays connected to mosquitto itself.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'vitest'
import { configSchema, type MqttUpstreamConfig } from '../../../config/schema.js'
import { MqttForwarder } from '../../../gateway/forward/mqtt-forwarder.js'
import { createLogger } from '../../../gateway/logger.js'
import { freePort, Mosquitto } from '../../../scripts/ci/mosquitto.js'
import { haveMosquitto } from '../../helpers/e2e.js'
import { reading } from '../../helpers/forwarding.js'
import { TcpProxy } from '../../helpers/tcp-proxy.js'
import { tempDir } from '../../helpers/tmp.js'
import { UpstreamSink } from '../../helpers/upstream-sink.js'
import { type ContractSink, forwarderContract, UPSTREAM } from './forwarder-contract.js'

const WINDOW = 20

async function mosquittoSink(): Promise<ContractSink & { close(): Promise<void> }> {
  const dir = tempDir('outpost-mqtt-contract-')
  const acl = join(dir, 'acl')
  writeFileSync(acl, 'topic deny forbidden/#\ntopic readwrite #\n')
  const port = await freePort()
  const mosquitto = await Mosquitto.start({ dir, port, extra: [`acl_file ${acl}`] })
  const sink = new UpstreamSink(`mqtt://127.0.0.1:${port}`, '#', false, `contract-sink-${port}`)
  await sink.connect()
  const proxy = await TcpProxy.start(port)
  const url = proxy.url
  const config = configSchema.parse({
    gatewayId: 'gw-contract',
    upstreams: [
      {
        name: UPSTREAM,
        type: 'mqtt',
        url,
        maxInflight: WINDOW,
        reconnect: { minMs: 50, maxMs: 200 },
        connectTimeoutMs: 2000,
      },
    ],
  }).upstreams[0] as MqttUpstreamConfig
  return {
    window: WINDOW,
    forwarder: (outbox) =>
      new MqttForwarder({
        config,
        gatewayId: 'gw-contract',
        outbox,
        logger: createLogger({ level: 'silent' }),
      }),
    received: async () => sink.messages.map((m) => m.seq ?? -1),
    down: async () => proxy.cut(),
    up: async () => proxy.restore(),
    record: (i) => reading(i),
    refused: (i) => reading(i, { topic: 'forbidden/valve' }),
    close: async () => {
      await proxy.close()
      await sink.close(true)
      await mosquitto.kill()
    },
  }
}

describe.runIf(haveMosquitto())('mqtt', () => {
  forwarderContract('MQTT (mosquitto)', mosquittoSink)
})
