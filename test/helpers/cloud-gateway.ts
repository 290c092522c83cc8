// The fixture of an end-to-end file that runs a gateway process forwarding to a cloud of its own
// (createCloud: mosquitto and a sink on #, up). `start` makes both in a temp dir, the gateway on
// dir/data with gatewayConfig and `extra`; `connect` connects a device client. After the file: clients
// ended, gateways killed, clouds closed.
import { join } from 'node:path'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll } from 'vitest'
import { type Cloud, createCloud, gatewayConfig } from './e2e.js'
import { GatewayProcess } from './gateway-process.js'
import { tempDir } from './tmp.js'

export interface CloudGatewayFixture {
  start(extra?: Record<string, unknown>): Promise<{ cloud: Cloud; gateway: GatewayProcess }>
  connect(url: string, options: IClientOptions): Promise<MqttClient>
}

/** Call once in a describe block (or at the top of a file). */
export function cloudGatewayPerFile(): CloudGatewayFixture {
  const clouds: Cloud[] = []
  const gateways: GatewayProcess[] = []
  const clients: MqttClient[] = []
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true)
    for (const g of gateways) await g.kill9()
    for (const c of clouds) await c.close()
  })
  return {
    start: async (extra = {}) => {
      const dir = tempDir()
      const cloud = await createCloud(dir, true)
      clouds.push(cloud)
      const gateway = await GatewayProcess.start(dir, gatewayConfig(join(dir, 'data'), cloud.url, extra))
      gateways.push(gateway)
      return { cloud, gateway }
    },
    connect: async (url, options) => {
      const client = await connectAsync(url, options)
      clients.push(client)
      return client
    },
  }
}
