// Certificates for TLS tests, made at test time with the openssl binary: EC P-256 keys (fast, also on a
// Pi), one-day validity, in a temp dir removed after the test file.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './tmp.js'

export interface Pki {
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
export function makePki(): Pki {
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
