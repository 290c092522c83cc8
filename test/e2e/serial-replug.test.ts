// Issue #9: a serial device unplugged and replugged five times (socat stopped — SIGTERM or SIGKILL, so
// the link goes away or dangles — and started again on the same path): the adapter recovers each time,
// the readings sent after each replug arrive in order, one log line per state change, and the gateway
// never exits. It also starts with its port missing.
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PtyWriter } from '../../devices/simulator/pty-writer.js'
import { deadline } from '../helpers/deadline.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { haveSocat, PtyPair } from '../helpers/socat.js'
import { tempDir } from '../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.runIf(haveMosquitto() && haveSocat())('serial unplug and replug', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  let pty: PtyPair | undefined
  afterAll(async () => {
    await gateway?.kill9()
    await pty?.unplug()
    await cloud?.close()
  })

  it('recovers after each of five unplugs; readings after every replug arrive; the gateway never exits', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    const path = join(dir, 'ttyUSB0')
    const g = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        devices: {
          serial: [
            {
              name: 'probe',
              path,
              framing: 'json-lines',
              topic: 'probes/{device}',
              reopen: { minMs: 50, maxMs: 400 },
            },
          ],
        },
      }),
    )
    gateway = g
    const c = cloud
    const state = async () => (await g.status()).devices.serial[0]
    const until = async (what: string, cond: () => Promise<boolean>) => {
      const by = performance.now() + time.left(15_000)
      while (!(await cond())) {
        if (performance.now() > by)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await state())}`)
        await sleep(25)
      }
    }
    // Missing at start: the gateway runs and says so once.
    await until('the missing port to be reported', async () => (await state())?.state === 'closed')
    expect((await state())?.error?.code).toBe('OUTPOST_DEVICE_NOT_FOUND')
    pty = await PtyPair.start(dir, 'ttyUSB0')
    const p = pty

    const PER_ROUND = 20
    for (let round = 0; round <= 5; round++) {
      await until(`open #${round + 1}`, async () => {
        const s = await state()
        return s?.state === 'open' && s.opens === round + 1
      })
      const writer = await PtyWriter.open(p.host)
      for (let i = 0; i < PER_ROUND; i++) writer.write(Buffer.from(`${JSON.stringify({ round, i })}\n`))
      await c.sink.waitFor(
        () => c.sink.firstCopies().length >= (round + 1) * PER_ROUND,
        time.left(15_000),
        () => `round ${round}: ${c.sink.firstCopies().length}/${(round + 1) * PER_ROUND}`,
      )
      await writer.close()
      if (round === 5) break
      await p.unplug(round % 2 === 0 ? 'SIGTERM' : 'SIGKILL')
      await until(`the unplug #${round + 1} to be noticed`, async () => (await state())?.state === 'closed')
      await sleep(100 + 50 * round) // unplugged for a while: some reopen attempts fail meanwhile
      await p.plug()
    }

    const got = c.sink
      .firstCopies()
      .map((m) => JSON.parse(m.payload.toString()) as { round: number; i: number })
    expect(got).toEqual(
      Array.from({ length: 6 * PER_ROUND }, (_, k) => ({
        round: Math.floor(k / PER_ROUND),
        i: k % PER_ROUND,
      })),
    )
    expect(c.sink.firstCopies().every((m) => m.topic === 'probes/probe')).toBe(true)
    expect(await state()).toMatchObject({ state: 'open', opens: 6, readings: 6 * PER_ROUND, garbage: {} })
    // One line per state change: unavailable once at start, then lost and open once per unplug.
    const changes = g.logs.filter((l) => l.part === 'devices' && l.level !== 'debug').map((l) => l.msg)
    expect(changes.filter((m) => m === 'serial device unavailable: retrying')).toHaveLength(1)
    expect(changes.filter((m) => m === 'serial device lost: reopening')).toHaveLength(5)
    expect(changes.filter((m) => m === 'serial device open')).toHaveLength(6)
    expect(g.child.exitCode).toBeNull()
    expect(await g.stop()).toBe(0)
  })
})
