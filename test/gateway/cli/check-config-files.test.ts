// `outpost check-config` on configs that validate but cannot work (#10): TLS files that are missing or
// are not files, reported with their config paths (warnings; errors with --env, exit 66), and a broker
// no device could ever connect to (a warning).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../../helpers/cli.js'
import { tempDir } from '../../helpers/tmp.js'

function configWithFiles(dir: string): string {
  writeFileSync(join(dir, 'cert.pem'), 'not checked for PEM here, only readable')
  mkdirSync(join(dir, 'a-directory'))
  const file = join(dir, 'outpost.yaml')
  writeFileSync(
    file,
    JSON.stringify({
      gatewayId: 'gw-files',
      dataDir: join(dir, 'data'),
      broker: {
        listeners: [
          {
            type: 'tls',
            host: '127.0.0.1',
            port: 8883,
            certFile: join(dir, 'cert.pem'),
            keyFile: join(dir, 'key.pem'),
          },
        ],
        allowAnonymous: true,
      },
      upstreams: [
        { name: 'cloud', type: 'mqtt', url: 'mqtts://cloud.example:8883', caFile: join(dir, 'a-directory') },
        { name: 'lake', type: 'kafka', brokers: ['k:9093'], tls: { caFile: join(dir, 'kafka-ca.pem') } },
      ],
      routes: [{ match: 'sensors/#', to: ['cloud', 'lake'], topic: 'telemetry' }],
    }),
  )
  return file
}

describe('outpost check-config: files and devices', () => {
  test('missing or non-file TLS files: a warning each with its path, exit 0; with --env errors, exit 66', async () => {
    const dir = tempDir()
    const file = configWithFiles(dir)
    const expected = [
      ['broker.listeners[0].keyFile', `${join(dir, 'key.pem')}: no such file`],
      ['upstreams[0].caFile', `${join(dir, 'a-directory')}: not a file`],
      ['upstreams[1].tls.caFile', `${join(dir, 'kafka-ca.pem')}: no such file`],
    ]
    const lenient = await runCli(['check-config', file])
    expect(lenient.code, lenient.stderr).toBe(0)
    expect(lenient.stderr.trimEnd().split('\n')).toEqual(
      expected.map(([path, what]) => `warning: ${path}: ${what} (outpost start would refuse it)`),
    )
    expect(lenient.stdout).toMatch(/^ok: /)

    const strict = await runCli(['check-config', '--env', file])
    expect(strict.code).toBe(66)
    expect(strict.stdout).toBe('')
    expect(strict.stderr.trimEnd().split('\n')).toEqual([
      `${file}: 3 problems`,
      ...expected.map(([path, what]) => `  ${path}: ${what}`),
    ])
  })

  test('anonymous off and no users: a warning that no device can connect, exit 0', async () => {
    const file = join(tempDir(), 'outpost.yaml')
    writeFileSync(file, 'broker: { listeners: [{ type: tcp, host: 0.0.0.0, port: 1883 }] }\n')
    const r = await runCli(['check-config', file])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe(
      'warning: broker: no device can connect: allowAnonymous is false and broker.users is empty — add a user (`outpost passwd NAME` prints its line for broker.users)\n',
    )
  })
})
