// `outpost start` with an invalid config, as a real process: exit 78 (EX_CONFIG, what systemd and
// scripts act on), every problem on stderr with the config path at fault, and the data dir never
// created (DESIGN.md: "exits with status 78 before any socket or file is opened").
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { freePort } from '../../../scripts/ci/mosquitto.js'
import { runCli } from '../../helpers/cli.js'
import { tempDir } from '../../helpers/tmp.js'

describe('outpost start', () => {
  test('an invalid config: exit 78, each problem printed with its path, the data dir never created', async () => {
    const dir = tempDir()
    const dataDir = join(dir, 'data')
    const port = await freePort()
    const file = join(dir, 'outpost.yaml')
    writeFileSync(
      file,
      `gatewayId: gw-test
dataDir: ${dataDir}
broker:
  listeners:
    - { type: tcp, host: 127.0.0.1, port: ${port} }
  allowAnonymous: true
outbox:
  durability: sometimes
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://127.0.0.1:1" }
routes:
  - { match: "sensors/#", to: [clod] }
`,
    )
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.signal, `still running after 20 s; stdout: ${r.stdout}`).toBeNull()
    expect(r.code, `stderr: ${r.stderr}`).toBe(78)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines[0]).toBe(`${file}: 2 problems`)
    expect(lines.slice(1).sort()).toEqual([
      expect.stringMatching(/^ {2}outbox\.durability: .*fsync/),
      expect.stringMatching(/^ {2}routes\[0\]\.to\[0\]: unknown upstream "clod"/),
    ])
    expect(r.stdout).toBe('') // no log line: the gateway never started
    expect(existsSync(dataDir), 'the data dir was not created').toBe(false)
  })

  test('an unset ${VAR}: exit 78 naming the path and the variable', async () => {
    const dir = tempDir()
    const file = join(dir, 'outpost.yaml')
    writeFileSync(
      file,
      `dataDir: ${join(dir, 'data')}
upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://127.0.0.1:1", password: "\${OUTPOST_TEST_UNSET_SECRET}" }
`,
    )
    const env = { ...process.env }
    delete env['OUTPOST_TEST_UNSET_SECRET']
    const r = await runCli(['start', '--config', file], { env, timeoutMs: 20_000 })
    expect(r.code, `stderr: ${r.stderr}`).toBe(78)
    expect(r.stderr).toContain(file)
    expect(r.stderr).toMatch(/upstreams\[0\]\.password: .*OUTPOST_TEST_UNSET_SECRET/)
    expect(existsSync(join(dir, 'data'))).toBe(false)
  })
})
