// `npm run demo` (scripts/demo/demo.ts), shortened: the uplink is cut and restored, and the demo ends
// with lost = 0 and exit status 0 — against mosquitto and against the in-process aedes it falls back to.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { deadline } from '../helpers/deadline.js'
import { haveMosquitto } from '../helpers/e2e.js'

const DEMO = fileURLToPath(new URL('../../dist/scripts/demo/demo.js', import.meta.url))

function runDemo(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    }),
  )
}

const SHORT = ['--devices', '5', '--rate', '20', '--before', '1', '--cut', '2', '--after', '1']

describe('npm run demo', () => {
  for (const cloud of ['mosquitto', 'aedes'] as const) {
    it.runIf(cloud === 'aedes' || haveMosquitto())(
      `cuts the uplink, restores it, and reports lost 0 (${cloud})`,
      async (ctx) => {
        const r = await runDemo([...SHORT, '--cloud', cloud], deadline(ctx).left(40_000))
        expect(r.code, r.out).toBe(0)
        expect(r.out).toContain(`cloud     ${cloud}`)
        expect(r.out).toMatch(/uplink cut .*\n(.*\n)*.*uplink restored/)
        const m = /sent ([\d,]+) +acked ([\d,]+) +peak backlog ([\d,]+) +delivered ([\d,]+) +lost 0\n/.exec(
          r.out,
        )
        expect(m, r.out).not.toBeNull()
        const [sent, acked, peak, delivered] = (m as RegExpExecArray)
          .slice(1)
          .map((v) => Number(v.replaceAll(',', '')))
        expect(acked).toBe(sent)
        expect(delivered).toBe(acked)
        expect(peak).toBeGreaterThan(0) // the cut made a backlog
        expect(r.out).toContain('every device in order')
      },
    )
  }
})
