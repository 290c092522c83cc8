// systemd/outpost.service (#10): systemd-analyze verifies it and rates it ≤ 2.5; the settings the issue
// asks for are there (systemd is not PID 1 on test machines, so this is as far as a unit can be run).
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { hasBinary, needs } from '../helpers/needs.js'

const UNIT = fileURLToPath(new URL('../../systemd/outpost.service', import.meta.url))
const run = promisify(execFile)

/** Every `Key=value` of the unit, by key (a key may repeat). */
function settings(): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string])
  }
  return out
}

describe('systemd/outpost.service', () => {
  test('notify, watchdog, ordering, restarts, directories, groups and memory are set', () => {
    const s = settings()
    const one = (key: string) => s.get(key)?.at(-1)
    expect(one('Type')).toBe('notify')
    expect(one('NotifyAccess')).toBe('all') // systemd-notify sends from its own PID
    expect(Number(one('WatchdogSec'))).toBeGreaterThan(0)
    expect(one('After')).toContain('network-online.target')
    expect(one('Wants')).toContain('network-online.target')
    expect(one('Restart')).toBe('on-failure')
    expect(Number(one('RestartSec'))).toBeGreaterThan(0)
    expect(one('RestartPreventExitStatus')?.split(' ')).toContain('78')
    expect(one('StateDirectory')).toBe('outpost')
    expect(one('ConfigurationDirectory')).toBe('outpost')
    expect(one('SupplementaryGroups')).toBe('dialout')
    expect(one('MemoryMax')).toMatch(/^\d+M$/)
    expect(one('ExecStart')).toMatch(
      /^\/usr\/bin\/node --max-semi-space-size=\d+ --max-old-space-size=\d+ \/opt\/outpost\/dist\/gateway\/cli\.js start --config \/etc\/outpost\/outpost\.yaml$/,
    )
  })

  test('systemd-analyze verify is clean and security rates it 2.5 or better', async (ctx) => {
    if (!needs('systemd-analyze (apt-get install systemd)', hasBinary('systemd-analyze'))) return ctx.skip()
    const verify = await run('systemd-analyze', ['verify', UNIT])
    expect(verify.stderr).toBe('')
    const security = await run('systemd-analyze', ['security', '--offline=true', '--threshold=25', UNIT])
    const score = /Overall exposure level for outpost\.service: (\d+\.\d)/.exec(security.stdout)?.[1]
    expect(Number(score)).toBeLessThanOrEqual(2.5)
  })
})
