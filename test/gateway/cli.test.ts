// The `outpost` command as a real process: help, version, usage errors and their exit statuses.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { runCli } from '../helpers/cli.js'

const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url))

describe('outpost', () => {
  test('--help exits 0 and lists every command', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const command of ['start', 'check-config', 'outbox stats', 'outbox peek', 'passwd']) {
      expect(r.stdout).toContain(`outpost ${command}`)
    }
    expect(r.stdout).toMatch(
      /64 usage, 66 missing file, 69 port in use or no outbox, 73 data dir\nnot writable, 74 outbox unreadable, 75 outbox in use, 77 not permitted, 78 invalid config/,
    )
    expect(r.stderr).toBe('')
    const short = await runCli(['-h'])
    expect(short).toMatchObject({ code: 0, stdout: r.stdout })
  })

  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }
    const r = await runCli(['--version'])
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  test('an unknown command exits 64 with a message and the usage on stderr', async () => {
    const r = await runCli(['frobnicate'])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/^unknown command "frobnicate"/)
    expect(r.stderr).toContain('outpost check-config FILE')
    expect(r.stdout).toBe('')
  })

  test('no command at all exits 64 with the usage on stderr', async () => {
    const r = await runCli([])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('usage:')
    expect(r.stdout).toBe('')
  })

  test('usage errors of a command exit 64', async () => {
    for (const args of [
      ['check-config'],
      ['check-config', 'a.yaml', 'b.yaml'],
      ['passwd'],
      ['outbox', 'list'],
    ]) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).toBe(64)
      expect(r.stderr, args.join(' ')).toMatch(/usage: outpost/)
    }
  })
})
