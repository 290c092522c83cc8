// `outpost simulate` as a real process: usage errors exit 64; a run prints its summary (or --json for
// scripts) and exits 0 when every reading was acknowledged, 1 when some were not.
import { describe, expect, test } from 'vitest'
import type { FleetSummary } from '../../../devices/simulator/fleet.js'
import { freePort } from '../../../scripts/ci/mosquitto.js'
import { runCli } from '../../helpers/cli.js'
import { gatewaysPerTest, readOutbox } from '../broker/harness.js'

const { start } = gatewaysPerTest()

describe('outpost simulate', () => {
  test.each([
    [['--rate', '0']],
    [['--qos', '3']],
    [['--profile', 'weather']],
    [['--duration', 'soon']],
    [['--framing', 'nmea']],
    [['--serial', '/dev/null', '--framing', 'morse']],
    [['--serial', '/dev/null', '--devices', '5']],
    [['--broker', 'localhost:1883']],
    [['--password', 'x']],
    [['--frobnicate']],
  ])('usage error %j: exit 64 with the usage', async (args) => {
    const r = await runCli(['simulate', ...args])
    expect(r.code, r.stderr).toBe(64)
    expect(r.stderr).toMatch(/usage: outpost simulate/)
  })

  test('--json: 3 devices × 10/s for 1 s, all acknowledged and stored; exit 0', async () => {
    const gw = await start()
    const r = await runCli([
      'simulate',
      '--broker',
      gw.url,
      '--devices',
      '3',
      '--rate',
      '10/s',
      '--duration',
      '1s',
      '--profile',
      'env',
      '--id-prefix',
      'cli',
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout) as FleetSummary
    expect(s).toMatchObject({ devices: 3, profile: 'env', qos: 1, ratePerSec: 10, failed: 0, acked: s.sent })
    expect(s.sent).toBeGreaterThanOrEqual(30)
    expect(s.perDevice.map((d) => d.id)).toEqual(['cli-0001', 'cli-0002', 'cli-0003'])
    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records).toHaveLength(s.sent)
    expect(records.map((r) => r.origin).sort()[0]).toBe('cli-0001')
  })

  test('nobody listening: readings fail, the text summary says so, exit 1', async () => {
    const port = await freePort()
    const r = await runCli([
      'simulate',
      '--broker',
      `mqtt://127.0.0.1:${port}`,
      '--rate',
      '10',
      '--duration',
      '0.5',
      '--drain-timeout',
      '0.5',
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /^simulated 1 device \(mixed, 10\/s each, QoS 1\) for \d+\.\d s against mqtt:\/\/127\.0\.0\.1:\d+\n/,
    )
    const m = /sent (\d+) {2}acked 0 {2}failed (\d+)/.exec(r.stdout)
    expect(m?.[1]).toBe(m?.[2])
    expect(Number(m?.[1])).toBeGreaterThan(0)
  })
})
