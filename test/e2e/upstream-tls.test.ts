// The forwarder's TLS options against a real TLS broker: mqtts:// to mosquitto with a server certificate
// the gateway trusts through caFile, and mutual TLS with certFile/keyFile. A gateway that does not trust
// the broker's certificate sends nothing and says why.
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Mosquitto } from '../../scripts/ci/mosquitto.js'
import { gatewayConfig, haveMosquitto, publishReadings } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { makePki, type Pki } from '../helpers/pki.js'
import { tempDir } from '../helpers/tmp.js'
import { UpstreamSink } from '../helpers/upstream-sink.js'

const ready = haveMosquitto() && needs('openssl (apt-get install openssl)', hasBinary('openssl'))

describe.runIf(ready)('upstream over TLS', () => {
  let pki: Pki
  let broker: Mosquitto | undefined
  let sink: UpstreamSink | undefined
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    await sink?.close(true)
    await broker?.kill()
  })

  async function tlsCloud(): Promise<{ url: string; sink: UpstreamSink }> {
    pki = makePki()
    broker = await Mosquitto.start({
      dir: tempDir(),
      tls: { certfile: pki.serverCert, keyfile: pki.serverKey, cafile: pki.caCert, requireCertificate: true },
    })
    // The sink also needs a client certificate: mosquitto requires one on this listener.
    sink = new UpstreamSink(broker.url, '#', false, 'tls-sink', {
      ca: pki.serverCert,
      cert: pki.clientCert,
      key: pki.clientKey,
    })
    await sink.connect()
    return { url: broker.url, sink }
  }

  it('delivers over mutual TLS with caFile, certFile and keyFile, and refuses an untrusted broker', async () => {
    const cloud = await tlsCloud()
    const dir = tempDir()
    const tls = { caFile: pki.serverCert, certFile: pki.clientCert, keyFile: pki.clientKey }
    const upstream = {
      name: 'cloud',
      type: 'mqtt',
      url: cloud.url,
      reconnect: { minMs: 100, maxMs: 300 },
      ...tls,
    }
    const g = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), undefined, { upstreams: [upstream] }),
    )
    gateways.push(g)
    await publishReadings(g.url, 2, 100)
    await cloud.sink.waitForUnique(200, 20_000)
    expect(cloud.sink.messages.every((m) => m.gateway === 'gw-test')).toBe(true)
    expect(await g.stop()).toBe(0)

    // Trusting another CA: the connection fails certificate verification; nothing is sent or lost.
    const dir2 = tempDir()
    const wrongCa = { ...upstream, caFile: pki.caCert }
    const g2 = await GatewayProcess.start(
      dir2,
      gatewayConfig(join(dir2, 'data'), undefined, { upstreams: [wrongCa] }),
    )
    gateways.push(g2)
    await publishReadings(g2.url, 1, 10, { startAt: 1000 })
    const failure = await g2.waitForLog((l) => l.msg === 'upstream connection failed')
    expect(String(failure.err)).toMatch(/certificate|self.signed|verify/i)
    await new Promise((r) => setTimeout(r, 500))
    expect(cloud.sink.uniqueCount()).toBe(200)
    expect(await g2.stop()).toBe(0)
  })
})
