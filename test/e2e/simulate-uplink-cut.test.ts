// Issue #9: `outpost simulate --devices 200 --rate 5` for 60 s against the gateway while its uplink is
// cut for 20 s (a TCP proxy drops it; mosquitto stays up): every reading the simulator saw acknowledged
// arrives upstream, and each device's readings arrive in the order it sent them.
//
// The longest test of the suite (~75 s, most of it the simulation itself): it runs alongside the others
// (two workers), so it adds roughly its own length to the suite only when it is the last one left.
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { FleetSummary } from '../../devices/simulator/fleet.js'
import { runCli } from '../helpers/cli.js'
import { deadline } from '../helpers/deadline.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { tempDir } from '../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.runIf(haveMosquitto())('simulated fleet through an uplink cut', () => {
  let cloud: Cloud | undefined
  let proxy: TcpProxy | undefined
  let gateway: GatewayProcess | undefined
  afterAll(async () => {
    await gateway?.kill9()
    await proxy?.close()
    await cloud?.close()
  })

  it('200 devices × 5/s for 60 s, uplink cut from 20 s to 40 s: every acknowledged reading arrives, per-device order kept', {
    timeout: 180_000,
  }, async (ctx) => {
    const time = deadline(ctx, 10_000)
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    const c = cloud
    proxy = await TcpProxy.start(c.port)
    const px = proxy
    const g = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), px.url, { http: { enabled: true, host: '127.0.0.1', port: 0 } }),
    )
    gateway = g

    const started = performance.now()
    const simulating = runCli(
      [
        'simulate',
        '--broker',
        g.url,
        '--devices',
        '200',
        '--rate',
        '5',
        '--duration',
        '60',
        '--profile',
        'mixed',
        '--json',
      ],
      { timeoutMs: time.left(120_000) },
    )
    const at = (s: number) => sleep(Math.max(0, started + s * 1000 - performance.now()))
    await at(20)
    px.cut()
    const backlogAt = async () =>
      (await g.status()).outbox.cursors.find((k) => k.name === 'cloud')?.backlogMessages ?? 0
    await at(39.5)
    const backlogBeforeRestore = await backlogAt()
    const connectedDuringCut = (await g.status()).upstreams[0]?.state
    await at(40)
    px.restore()

    const r = await simulating
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout) as FleetSummary
    console.log(
      `simulate: sent ${summary.sent}, acked ${summary.acked}, failed ${summary.failed}, resent ${summary.resent}, ` +
        `reconnects ${summary.reconnects}, ${(summary.durationMs / 1000).toFixed(1)} s; backlog before restore ${backlogBeforeRestore}`,
    )
    expect(summary.devices).toBe(200)
    expect(summary.sent).toBeGreaterThanOrEqual(200 * 5 * 59)
    expect(summary.failed).toBe(0)
    expect(summary.acked).toBe(summary.sent)
    // The cut was real: the upstream was down and readings piled up in the outbox meanwhile.
    expect(connectedDuringCut).not.toBe('connected')
    expect(backlogBeforeRestore).toBeGreaterThan(200 * 5 * 15)

    // Every acknowledged reading arrives (acknowledged = produced minus the device's failedSeqs, none here).
    const key = (device: string, seq: number) => `${device}/${seq}`
    const expected = new Set<string>()
    for (const d of summary.perDevice) {
      const failed = new Set(d.failedSeqs)
      for (let seq = 0; seq < d.sent; seq++) if (!failed.has(seq)) expected.add(key(d.id, seq))
    }
    const seen = new Set<string>()
    const lastSeq = new Map<string, number>()
    const orderProblems: string[] = []
    let scanned = 0
    let missing = expected.size
    const scan = () => {
      for (; scanned < c.sink.messages.length; scanned++) {
        const m = c.sink.messages[scanned] as { payload: Buffer }
        const r = JSON.parse(m.payload.toString()) as { device: string; seq: number }
        const k = key(r.device, r.seq)
        if (seen.has(k)) continue // a duplicate (at least once): its first copy was checked
        seen.add(k)
        if (expected.has(k)) missing--
        const prev = lastSeq.get(r.device) ?? -1
        if (r.seq < prev && orderProblems.length < 10)
          orderProblems.push(`${r.device}: ${r.seq} after ${prev}`)
        lastSeq.set(r.device, Math.max(prev, r.seq))
      }
      return missing === 0
    }
    await c.sink.waitFor(scan, time.left(), () => `${seen.size}/${expected.size} readings arrived`)
    expect(orderProblems).toEqual([])
    expect(seen.size).toBe(expected.size)
    expect(g.child.exitCode).toBeNull()
  })
})
