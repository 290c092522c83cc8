// `outpost passwd USER` as a real process reading the password from a pipe.
import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../../config/load.js'
import { verifyPassword } from '../../../gateway/broker/password.js'
import { runCli } from '../../helpers/cli.js'

const LINE_RE = /^- \{ username: "([^"]*)", passwordHash: "([^"]+)" \}\n$/

describe('outpost passwd', () => {
  test('prints a config line whose hash verifies the piped password, and not another one', async () => {
    const r = await runCli(['passwd', 'sensor-7'], { input: 'correct horse battery\n' })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(LINE_RE)
    const [, user, hash] = LINE_RE.exec(r.stdout) as RegExpExecArray
    expect(user).toBe('sensor-7')
    expect(await verifyPassword('correct horse battery', hash as string)).toBe(true)
    expect(await verifyPassword('correct horse battery\n', hash as string)).toBe(false)
    expect(await verifyPassword('wrong', hash as string)).toBe(false)
  })

  test('the printed line is a valid broker.users entry', async () => {
    const r = await runCli(['passwd', 'dash board'], { input: 'pw' }) // no newline at the end
    expect(r.code).toBe(0)
    const config = parseConfigText(`broker:\n  users:\n    ${r.stdout}`, 'passwd.yaml', { env: {} })
    const [user] = config.broker.users
    expect(user?.username).toBe('dash board')
    expect(await verifyPassword('pw', user?.passwordHash ?? '')).toBe(true)
  })

  test('only the first line is the password, and a CRLF line end is not part of it', async () => {
    const r = await runCli(['passwd', 'u'], { input: 'first\r\nsecond\n' })
    const [, , hash] = LINE_RE.exec(r.stdout) as RegExpExecArray
    expect(await verifyPassword('first', hash as string)).toBe(true)
  })

  test('an empty password is refused with exit 64', async () => {
    for (const input of ['', '\n']) {
      const r = await runCli(['passwd', 'u'], { input })
      expect(r.code, JSON.stringify(input)).toBe(64)
      expect(r.stderr).toContain('empty password refused')
      expect(r.stdout).toBe('')
    }
  })
})
