// Issue #9: a lines, a json-lines and an nmea device on real ptys (socat) reach the cloud mosquitto on
// their configured topics, with the right payloads, in order; garbage (binary noise, a 200 kB line
// without a newline, bad checksums, invalid JSON) is counted per device and reason, crashes nothing, and
// the good frames after it arrive; `outpost simulate --serial` feeds a device the same way.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withChecksum } from '../../devices/serial/nmea-sentence.js'
import { PtyWriter } from '../../devices/simulator/pty-writer.js'
import { runCli } from '../helpers/cli.js'
import { deadline } from '../helpers/deadline.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { prng } from '../helpers/prng.js'
import { haveSocat, PtyPair } from '../helpers/socat.js'
import { tempDir } from '../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A GGA sentence whose time field carries `i` (12:00:00 + i seconds), so order shows upstream. */
function gga(i: number): string {
  const t = new Date(Date.UTC(2026, 0, 1, 12, 0, i))
  const hhmmss = t.toISOString().slice(11, 19).replaceAll(':', '')
  return withChecksum(
    `$GPGGA,${hhmmss}.00,6325.${String(i).padStart(4, '0')},N,01023.5000,E,1,08,0.9,45.0,M,40.0,M,,`,
  )
}

describe.runIf(haveMosquitto() && haveSocat())('serial devices end to end', () => {
  const dir = tempDir()
  let cloud: Cloud
  let gateway: GatewayProcess
  const ptys: Record<string, PtyPair> = {}
  const writers: Record<string, PtyWriter> = {}

  beforeAll(async () => {
    cloud = await createCloud(dir, true)
    for (const name of ['meter', 'tracker', 'probe', 'sim']) ptys[name] = await PtyPair.start(dir, name)
    const reopen = { minMs: 50, maxMs: 500 }
    const p = (name: string) => (ptys[name] as PtyPair).device
    gateway = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        log: { level: 'debug' },
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        devices: {
          serial: [
            {
              name: 'meter',
              path: p('meter'),
              framing: 'lines',
              topic: 'meters/{device}/reading',
              maxFrameBytes: 4096,
              reopen,
            },
            {
              name: 'tracker',
              path: p('tracker'),
              framing: 'nmea',
              topic: 'gps/{device}/{json.sentenceId}',
              reopen,
            },
            {
              name: 'probe',
              path: p('probe'),
              framing: 'json-lines',
              topic: 'probes/{json.id}/data',
              reopen,
            },
            {
              name: 'sim',
              path: p('sim'),
              framing: 'nmea',
              baudRate: 115200,
              topic: 'sim/{gatewayId}/{json.sentenceId}',
              reopen,
            },
          ],
        },
      }),
    )
    // Wait until every port is open: bytes written before would wait in the pty, but the test is about
    // what the adapter reads.
    const by = performance.now() + 15_000
    for (;;) {
      const s = await gateway.status()
      if (s.devices.serial.every((d) => d.state === 'open')) break
      if (performance.now() > by) throw new Error(`ports not open: ${JSON.stringify(s.devices)}`)
      await sleep(50)
    }
    for (const name of ['meter', 'tracker', 'probe'])
      writers[name] = await PtyWriter.open((ptys[name] as PtyPair).host)
  })

  afterAll(async () => {
    for (const w of Object.values(writers)) await w.close()
    await gateway?.kill9()
    for (const pty of Object.values(ptys)) await pty.unplug()
    await cloud?.close()
  })

  const arrived = (prefix: string) => cloud.sink.firstCopies().filter((m) => m.topic.startsWith(prefix))

  it('lines, json-lines and nmea readings reach the cloud on their topics, with their payloads, in order', async (ctx) => {
    const time = deadline(ctx)
    const N = 30
    for (let i = 0; i < N; i++) {
      writers.meter?.write(Buffer.from(`kwh=${1000 + i} v=230.${i % 10}\r\n`))
      writers.probe?.write(Buffer.from(`${JSON.stringify({ id: i % 2 ? 'p-odd' : 'p-even', n: i })}\n`))
      writers.tracker?.write(Buffer.from(`${gga(i)}\r\n`))
    }
    await cloud.sink.waitFor(
      () => arrived('meters/').length >= N && arrived('probes/').length >= N && arrived('gps/').length >= N,
      time.left(20_000),
      () =>
        `meter ${arrived('meters/').length}, probe ${arrived('probes/').length}, tracker ${arrived('gps/').length}`,
    )
    const meter = arrived('meters/')
    expect(meter.map((m) => m.topic)).toEqual(Array(N).fill('meters/meter/reading'))
    expect(meter.map((m) => m.payload.toString())).toEqual(
      Array.from({ length: N }, (_, i) => `kwh=${1000 + i} v=230.${i % 10}`),
    )
    const probe = arrived('probes/')
    expect(probe.map((m) => [m.topic, JSON.parse(m.payload.toString()).n])).toEqual(
      Array.from({ length: N }, (_, i) => [i % 2 ? 'probes/p-odd/data' : 'probes/p-even/data', i]),
    )
    const tracker = arrived('gps/')
    expect(new Set(tracker.map((m) => m.topic))).toEqual(new Set(['gps/tracker/GGA']))
    const fixes = tracker.map((m) => JSON.parse(m.payload.toString()))
    expect(fixes[0]).toMatchObject({ talkerId: 'GP', sentenceId: 'GGA', fixType: 'fix', satellitesInView: 8 })
    fixes.forEach((f, i) => {
      expect(f.latitude, `reading ${i}`).toBeCloseTo(63 + (25 + i / 10_000) / 60, 9)
    })
    expect(fixes.map((f) => f.time.slice(11, 19))).toEqual(
      Array.from({ length: N }, (_, i) =>
        new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString().slice(11, 19),
      ),
    )
    expect(meter.every((m) => m.gateway === 'gw-test')).toBe(true)
  })

  it('noise, a 200 kB line without a newline, bad checksums and invalid JSON are counted by device and reason; the good frames after them arrive', async (ctx) => {
    const time = deadline(ctx)
    const random = prng(0x9a4ba6e)
    const noise = Buffer.from(
      Array.from({ length: 512 }, () => Math.floor(random() * 256)).filter((b) => b !== 0x0a),
    )
    const before = {
      meter: arrived('meters/').length,
      probe: arrived('probes/').length,
      tracker: arrived('gps/').length,
    }
    // meter: binary noise ended by a newline, then 200 kB with no newline at all, then good lines.
    writers.meter?.write(Buffer.concat([noise, Buffer.from('\n')]))
    for (let i = 0; i < 50; i++) writers.meter?.write(Buffer.alloc(4096, 0x41))
    writers.meter?.write(Buffer.from('\nafter=1\nafter=2\n'))
    // tracker: three bad checksums and noise (no newline in it) before a sentence on the same line.
    for (let i = 0; i < 3; i++) writers.tracker?.write(Buffer.from(`${gga(100 + i).slice(0, -2)}00\r\n`))
    writers.tracker?.write(Buffer.concat([noise, Buffer.from(`${gga(200)}\r\n`)]))
    // probe: two lines that are not JSON, then good ones.
    writers.probe?.write(Buffer.from('{"id":"p-even",\nhello world\n{"id":"p-even","n":1000}\n'))

    await cloud.sink.waitFor(
      () =>
        arrived('meters/').length >= before.meter + 2 &&
        arrived('probes/').length >= before.probe + 1 &&
        arrived('gps/').length >= before.tracker + 1,
      time.left(20_000),
      () =>
        `meter ${arrived('meters/').length}, probe ${arrived('probes/').length}, tracker ${arrived('gps/').length}`,
    )
    expect(
      arrived('meters/')
        .slice(before.meter)
        .map((m) => m.payload.toString()),
    ).toEqual(['after=1', 'after=2'])
    expect(
      arrived('probes/')
        .slice(before.probe)
        .map((m) => m.payload.toString()),
    ).toEqual(['{"id":"p-even","n":1000}'])
    expect(JSON.parse(arrived('gps/')[before.tracker]?.payload.toString() ?? '{}').latitude).toBeCloseTo(
      63 + 25.02 / 60,
      6,
    )

    const status = await gateway.status()
    const dev = (name: string) => status.devices.serial.find((d) => d.name === name)
    expect(dev('meter')?.garbage).toEqual({ binary: 1, overlong: 1 })
    expect(dev('tracker')?.garbage).toEqual({ bad_checksum: 3 })
    expect(dev('probe')?.garbage).toEqual({ invalid_json: 2 })
    expect(dev('meter')).toMatchObject({ state: 'open', opens: 1, readings: 32, frames: 32, dropped: {} })

    const metricsPort = gateway.logs.find((l) => l.msg === 'http listening')?.port as number
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toContain(
      'outpost_device_garbage_total{device="meter",type="serial",reason="overlong"} 1',
    )
    expect(metrics).toContain(
      'outpost_device_garbage_total{device="tracker",type="serial",reason="bad_checksum"} 3',
    )
    expect(metrics).toContain('outpost_device_up{device="probe",type="serial"} 1')
    expect(metrics).toContain('outpost_device_readings_total{device="meter",type="serial"} 32')
    // Logged at debug, one line each; never above.
    const skipped = gateway.logs.filter((l) => l.msg === 'serial input skipped')
    expect(skipped.map((l) => l.level)).toEqual(Array(skipped.length).fill('debug'))
    expect(skipped.map((l) => `${l.device}:${l.reason}`).sort()).toEqual(
      [
        'meter:binary',
        'meter:overlong',
        'probe:invalid_json',
        'probe:invalid_json',
        'tracker:bad_checksum',
        'tracker:bad_checksum',
        'tracker:bad_checksum',
      ].sort(),
    )
    expect(gateway.child.exitCode).toBeNull()
  })

  it('`outpost simulate --serial PATH --framing nmea` writes GGA and VTG sentences that the gateway publishes as JSON', async (ctx) => {
    const time = deadline(ctx)
    const r = await runCli(
      [
        'simulate',
        '--serial',
        (ptys.sim as PtyPair).host,
        '--framing',
        'nmea',
        '--rate',
        '20',
        '--duration',
        '1',
        '--json',
      ],
      { timeoutMs: time.left(20_000) },
    )
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout) as { sent: number; written: number; dropped: number }
    expect(summary.sent).toBeGreaterThanOrEqual(20)
    expect(summary).toMatchObject({ written: summary.sent, dropped: 0 })
    const sim = () => arrived('sim/')
    await cloud.sink.waitFor(
      () => sim().length >= 2 * summary.sent,
      time.left(10_000),
      () => `${sim().length}`,
    )
    const json = sim().map((m) => JSON.parse(m.payload.toString()))
    expect(sim().map((m) => m.topic)).toEqual(
      Array.from({ length: 2 * summary.sent }, (_, i) => (i % 2 ? 'sim/gw-test/VTG' : 'sim/gw-test/GGA')),
    )
    const fixes = json.filter((j) => j.sentenceId === 'GGA')
    expect(fixes.every((f) => f.latitude > 63 && f.latitude < 64 && f.fixType === 'fix')).toBe(true)
    // One fix per reading, in time order.
    const times = fixes.map((f) => Date.parse(f.time))
    expect(times).toEqual([...times].sort((a, b) => a - b))
  })
})
