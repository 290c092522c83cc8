// The TLS and WebSocket listeners carry the same broker: a QoS 1 publish over mqtts:// and over
// ws://…/mqtt is stored. With requireClientCert, only a client presenting a certificate signed by the
// listener's caFile gets in (mTLS). Certificates are made at test time with the openssl binary.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hasBinary, needs } from '../../helpers/needs.js'
import { tempDir } from '../../helpers/tmp.js'
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

interface Pki {
  dir: string
  /** Self-signed server certificate for 127.0.0.1 and its key. */
  serverCert: string
  serverKey: string
  /** A CA, a client certificate it signed, and a self-signed client certificate it did not. */
  caCert: string
  clientCert: string
  clientKey: string
  strangerCert: string
  strangerKey: string
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 })
}

/** EC P-256 keys (fast to make on a Pi); one-day certificates. */
function makePki(): Pki {
  const dir = tempDir('outpost-pki-')
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(
    dir,
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    'server.key',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  )
  openssl(
    dir,
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=outpost test device CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  )
  openssl(
    dir,
    'req',
    '-new',
    ...newKey,
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=device-1',
  )
  writeFileSync(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n')
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.pem',
    '-days',
    '1',
    '-extfile',
    'client.ext',
  )
  openssl(
    dir,
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    'stranger.key',
    '-out',
    'stranger.pem',
    '-days',
    '1',
    '-subj',
    '/CN=stranger',
  )
  return {
    dir,
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    caCert: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    strangerCert: join(dir, 'stranger.pem'),
    strangerKey: join(dir, 'stranger.key'),
  }
}

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
