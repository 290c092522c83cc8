// The TLS and WebSocket listeners carry the same broker: a QoS 1 publish over mqtts:// and over
// ws://…/mqtt is stored. With requireClientCert, only a client presenting a certificate signed by the
// listener's caFile gets in (mTLS). Certificates are made at test time with the openssl binary.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hasBinary, needs } from '../../helpers/needs.js'
import { makePki, type Pki } from '../../helpers/pki.js'
import {
  ClientPool,
  connectClient,
  payloadText,
  type RunningGateway,
  readOutbox,
  startGateway,
  tryConnect,
} from './harness.js'

const haveOpenssl = needs('openssl (apt-get install openssl)', hasBinary('openssl'))

describe.runIf(haveOpenssl)('TLS and WebSocket listeners', () => {
  const pool = new ClientPool()
  const running: RunningGateway[] = []
  let pki: Pki
  beforeAll(() => {
    pki = makePki()
  })
  afterAll(async () => {
    await pool.endAll()
    await Promise.all(running.map((g) => g.stop()))
  })

  test('a QoS 1 publish over mqtts:// and over ws://…/mqtt is stored', async () => {
    const gw = await startGateway({
      broker: {
        listeners: [
          { type: 'tls', host: '127.0.0.1', port: 0, certFile: pki.serverCert, keyFile: pki.serverKey },
          { type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt' },
        ],
      },
    })
    running.push(gw)
    const [tls, ws] = gw.gateway.listeners
    expect(tls?.type).toBe('tls')
    expect(ws?.type).toBe('ws')

    const overTls = pool.add(
      await connectClient(`mqtts://127.0.0.1:${tls?.port}`, {
        clientId: 'tls-device',
        ca: readFileSync(pki.serverCert),
        rejectUnauthorized: true,
      }),
    )
    await overTls.publishAsync('sensors/tls/telemetry', 'over-tls', { qos: 1 })
    const overWs = pool.add(await connectClient(`ws://127.0.0.1:${ws?.port}/mqtt`, { clientId: 'ws-device' }))
    await overWs.publishAsync('sensors/ws/telemetry', 'over-ws', { qos: 1 })

    // A client that does not trust the certificate gets nowhere; nor does a WebSocket on another path.
    const untrusted = await tryConnect(`mqtts://127.0.0.1:${tls?.port}`, { clientId: 'tls-untrusted' })
    expect(untrusted.ok).toBe(false)
    const wrongPath = await tryConnect(`ws://127.0.0.1:${ws?.port}/elsewhere`, { clientId: 'ws-wrong-path' })
    expect(wrongPath.ok).toBe(false)

    const status = await gw.gateway.status()
    expect(status.broker.stored).toBe(2)
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map((r) => [r.topic, payloadText(r), r.origin])).toEqual([
      ['sensors/tls/telemetry', 'over-tls', 'tls-device'],
      ['sensors/ws/telemetry', 'over-ws', 'ws-device'],
    ])
  })

  test('requireClientCert: only a client with a certificate signed by caFile connects', async () => {
    const gw = await startGateway({
      broker: {
        listeners: [
          {
            type: 'tls',
            host: '127.0.0.1',
            port: 0,
            certFile: pki.serverCert,
            keyFile: pki.serverKey,
            caFile: pki.caCert,
            requireClientCert: true,
          },
        ],
      },
    })
    running.push(gw)
    const url = `mqtts://127.0.0.1:${gw.port}`
    const ca = readFileSync(pki.serverCert)

    const noCert = await tryConnect(url, { clientId: 'mtls-none', ca })
    expect(noCert.ok).toBe(false)
    const stranger = await tryConnect(url, {
      clientId: 'mtls-stranger',
      ca,
      cert: readFileSync(pki.strangerCert),
      key: readFileSync(pki.strangerKey),
    })
    expect(stranger.ok).toBe(false)

    const device = pool.add(
      await connectClient(url, {
        clientId: 'mtls-device',
        ca,
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
      }),
    )
    await device.publishAsync('sensors/mtls/telemetry', 'with-cert', { qos: 1 })
    const status = await gw.gateway.status()
    expect(status.broker.stored).toBe(1)
    expect(status.broker.connectionsTotal).toBe(1)
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(['with-cert'])
  })
})
