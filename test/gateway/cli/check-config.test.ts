// `outpost check-config FILE [--env]` as a real process: every problem with its path on stderr and exit
// 78, or "ok: …" and exit 0; unset variables are warnings unless --env.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { envWithout, runCli } from '../../helpers/cli.js'
import { tempDir } from '../../helpers/tmp.js'

const EXAMPLE_YAML = fileURLToPath(new URL('../../../config/example.yaml', import.meta.url))
const DEFAULT_YAML = fileURLToPath(new URL('../../../config/default.yaml', import.meta.url))

function writeConfig(text: string): string {
  const file = join(tempDir(), 'outpost.yaml')
  writeFileSync(file, text)
  return file
}

describe('outpost check-config', () => {
  test('a file with three mistakes: all three on stderr with their paths, exit 78', async () => {
    const file = writeConfig(`outbox:
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

  test('config/example.yaml without its secrets: exit 0, "ok: …" on stdout and a warning per unset variable', async () => {
    const r = await runCli(['check-config', EXAMPLE_YAML], { env: envWithout() })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `ok: ${EXAMPLE_YAML}: gateway pi-barn-01; listeners tcp 0.0.0.0:1883, tls 0.0.0.0:8883, ws 0.0.0.0:8080; ` +
        'outbox fsync 4 GiB drop-oldest in /var/lib/outpost; 2 upstreams (cloud mqtt, lake kafka); 4 routes; ' +
        '1 downlink; 1 serial device\n',
    )
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'warning: upstreams[0].password: environment variable CLOUD_PASSWORD is not set (outpost start would refuse it)',
      'warning: upstreams[1].sasl.password: environment variable KAFKA_PASSWORD is not set (outpost start would refuse it)',
    ])
  })

  test('config/example.yaml with its secrets set prints no warning; with --env and without them exits 78', async () => {
    const withSecrets = await runCli(['check-config', '--env', EXAMPLE_YAML], {
      env: { ...envWithout(), CLOUD_PASSWORD: 'c', KAFKA_PASSWORD: 'k' },
    })
    expect(withSecrets).toMatchObject({ code: 0, stderr: '' })
    expect(withSecrets.stdout).toMatch(/^ok: /)

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

  test('a file that does not exist: exit 78 with a clear message', async () => {
    const missing = join(tempDir(), 'missing.yaml')
    const r = await runCli(['check-config', missing])
    expect(r.code).toBe(78)
    expect(r.stderr).toBe(`${missing}: 1 problem\n  cannot read config: file not found\n`)
  })

  test('a YAML syntax error: exit 78 with its line and column', async () => {
    const file = writeConfig('log:\n  level: info\nlog: {}\n')
    const r = await runCli(['check-config', file])
    expect(r.code).toBe(78)
    expect(r.stderr).toMatch(/^ {2}line 3, column 1: Map keys must be unique/m)
  })
})
