// `outpost check-config FILE [--env]` as a real process: every problem with its path on stderr and exit
// 78, or "ok: …" and exit 0; unset variables are warnings unless --env.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { describe, expect, test } from 'vitest'
import { envWithout, runCli } from '../../helpers/cli.js'
import { tempDir } from '../../helpers/tmp.js'

const EXAMPLE_YAML = fileURLToPath(new URL('../../../config/example.yaml', import.meta.url))
const DEFAULT_YAML = fileURLToPath(new URL('../../../config/default.yaml', import.meta.url))

/** The TLS files config/example.yaml names, by config path (none of them exists on a test machine). */
const EXAMPLE_TLS_FILES = [
  ['broker.listeners[1].certFile', '/etc/outpost/tls/gateway.crt'],
  ['broker.listeners[1].keyFile', '/etc/outpost/tls/gateway.key'],
  ['broker.listeners[1].caFile', '/etc/outpost/tls/devices-ca.crt'],
  ['upstreams[0].caFile', '/etc/outpost/tls/cloud-ca.crt'],
  ['upstreams[0].certFile', '/etc/outpost/tls/pi-barn-01.crt'],
  ['upstreams[0].keyFile', '/etc/outpost/tls/pi-barn-01.key'],
  ['upstreams[1].tls.caFile', '/etc/outpost/tls/kafka-ca.crt'],
] as const

function writeConfig(text: string): string {
  const file = join(tempDir(), 'outpost.yaml')
  writeFileSync(file, text)
  return file
}

describe('outpost check-config', () => {
  test('a file with three mistakes: all three on stderr with their paths, exit 78', async () => {
    const file = writeConfig(`gatewayId: gw-test
outbox:
  durability: sometimes
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://cloud.example:1883" }
  - { name: lake, type: kafka }
routes:
  - { match: "sensors/+/telemetry", to: [cloud, nowhere] }
`)
    const r = await runCli(['check-config', file])
    expect(r.code).toBe(78)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines[0]).toBe(`${file}: 3 problems`)
    expect(lines.slice(1).sort()).toEqual([
      expect.stringMatching(/^ {2}outbox\.durability: .*fsync/),
      expect.stringMatching(/^ {2}routes\[0\]\.to\[1\]: unknown upstream "nowhere"/),
      expect.stringMatching(/^ {2}upstreams\[1\]\.brokers: required/),
    ])
  })

  test('Kafka upstreams: a topic template that can never be a Kafka topic name, no routes, zstd on this Node.js: exit 78 with each path', async () => {
    const zstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'
    const routed = writeConfig(`gatewayId: gw-test
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://cloud.example:1883" }
  - { name: lake, type: kafka, brokers: ["kafka1:9092"], compression: zstd }
routes:
  - { match: "meters/#", to: [lake], topic: meters }
  - { match: "alarms/+", to: [cloud] }
  - { match: "sensors/+/telemetry", to: [lake], key: "{1}" }
`)
    const r = await runCli(['check-config', routed])
    expect(r.code).toBe(78)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines[0]).toBe(`${routed}: ${zstd ? 1 : 2} problem${zstd ? '' : 's'}`)
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ {2}routes\[2\]\.topic: "\{topic\}" for Kafka upstream "lake" can never be a legal Kafka topic name: it always contains "\/".*such as "telemetry"/,
      ),
    )
    if (!zstd)
      expect(lines).toContainEqual(
        expect.stringMatching(/^ {2}upstreams\[1\]\.compression: zstd needs Node\.js ≥ 22\.15/),
      )

    const unrouted = writeConfig(
      'gatewayId: gw-test\nupstreams:\n  - { name: lake, type: kafka, brokers: ["kafka1:9092"] }\n',
    )
    const u = await runCli(['check-config', unrouted])
    expect(u.code).toBe(78)
    expect(u.stderr).toContain(
      `${unrouted}: 1 problem\n  upstreams[0]: Kafka upstream "lake" with no routes: `,
    )
    expect(u.stderr).toContain('Add a route with a Kafka topic name, e.g. routes: [{ match:')
  })

  test('config/example.yaml without its secrets: exit 0, "ok: …" on stdout and a warning per unset variable', async () => {
    const r = await runCli(['check-config', EXAMPLE_YAML], { env: envWithout() })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `ok: ${EXAMPLE_YAML}: gateway pi-barn-01; listeners tcp 0.0.0.0:1883, tls 0.0.0.0:8883, ws 0.0.0.0:8080; ` +
        'outbox fsync 4 GiB drop-oldest in /var/lib/outpost; 2 upstreams (cloud mqtt, lake kafka); 4 routes; ' +
        '1 downlink; 3 serial devices\n',
    )
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'warning: upstreams[0].password: environment variable CLOUD_PASSWORD is not set (outpost start would refuse it)',
      'warning: upstreams[1].sasl.password: environment variable KAFKA_PASSWORD is not set (outpost start would refuse it)',
      // the example's TLS files are not on this machine
      ...EXAMPLE_TLS_FILES.map(
        ([path, file]) => `warning: ${path}: ${file}: no such file (outpost start would refuse it)`,
      ),
    ])
  })

  test('config/example.yaml with its secrets set and --env: only its missing TLS files, exit 66; without the secrets exits 78', async () => {
    const withSecrets = await runCli(['check-config', '--env', EXAMPLE_YAML], {
      env: { ...envWithout(), CLOUD_PASSWORD: 'c', KAFKA_PASSWORD: 'k' },
    })
    expect(withSecrets.code).toBe(66)
    expect(withSecrets.stdout).toBe('')
    expect(withSecrets.stderr.trimEnd().split('\n')).toEqual([
      `${EXAMPLE_YAML}: ${EXAMPLE_TLS_FILES.length} problems`,
      ...EXAMPLE_TLS_FILES.map(([path, file]) => `  ${path}: ${file}: no such file`),
    ])

    const strict = await runCli(['check-config', EXAMPLE_YAML, '--env'], { env: envWithout() })
    expect(strict.code).toBe(78)
    expect(strict.stdout).toBe('')
    expect(strict.stderr).toContain(`${EXAMPLE_YAML}: 2 problems`)
    expect(strict.stderr).toContain('  upstreams[0].password: environment variable CLOUD_PASSWORD is not set')
    expect(strict.stderr).toContain(
      '  upstreams[1].sasl.password: environment variable KAFKA_PASSWORD is not set',
    )
  })

  test('--env turns an unset variable of any file into an error', async () => {
    const file = writeConfig('dataDir: "${OUTPOST_TEST_UNSET_DIR}/data"\n')
    const env = envWithout('OUTPOST_TEST_UNSET_DIR')
    const lenient = await runCli(['check-config', file], { env })
    expect(lenient.code).toBe(0)
    expect(lenient.stderr).toMatch(
      /^warning: dataDir: environment variable OUTPOST_TEST_UNSET_DIR is not set/,
    )
    const strict = await runCli(['check-config', '--env', file], { env })
    expect(strict.code).toBe(78)
    expect(strict.stderr).toContain('  dataDir: environment variable OUTPOST_TEST_UNSET_DIR is not set')
  })

  test('config/default.yaml is ok', async () => {
    const r = await runCli(['check-config', DEFAULT_YAML])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      /^ok: .*: gateway \S+; listeners tcp 127\.0\.0\.1:1883; outbox fsync 1 GiB reject in \.\/data; no upstreams \(buffering\); 0 routes; 0 downlinks; 0 serial devices\n$/,
    )
    expect(r.stderr).toBe('')
  })

  test('a file that does not exist: exit 66 with a clear message', async () => {
    const missing = join(tempDir(), 'missing.yaml')
    const r = await runCli(['check-config', missing])
    expect(r.code).toBe(66)
    expect(r.stderr).toBe(`${missing}: 1 problem\n  cannot read config: file not found\n`)
  })

  test('a YAML syntax error: exit 78 with its line and column', async () => {
    const file = writeConfig('log:\n  level: info\nlog: {}\n')
    const r = await runCli(['check-config', file])
    expect(r.code).toBe(78)
    expect(r.stderr).toMatch(/^ {2}line 3, column 1: Map keys must be unique/m)
  })
})
