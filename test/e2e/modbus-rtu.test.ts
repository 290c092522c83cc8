// Issue #9, modbus-rtu: the gateway polls two units of a Modbus RTU slave (test/helpers/modbus-slave.ts)
// on a real pty pair (socat); each unit's values reach the cloud mosquitto as JSON on the unit's topic,
// decoded, in poll order. A bad CRC, an exception, silence, a reply from another unit or for another
// function are counted by reason in /api/status and /metrics, crash nothing, and the polls after them
// arrive; a slow slave makes polls skip (counted), never overlap; unplug and replug recover.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadline } from '../helpers/deadline.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { ModbusSlave, type SlaveRequest } from '../helpers/modbus-slave.js'
import { haveSocat, PtyPair } from '../helpers/socat.js'
import { tempDir } from '../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Reading {
  unit: number
  time: string
  values: { voltage: number; current: number; energy: number; temp: number; status: number[]; seq: number }
}

describe.runIf(haveMosquitto() && haveSocat())('modbus-rtu polling end to end', () => {
  const dir = tempDir()
  let cloud: Cloud
  let gateway: GatewayProcess
  let pty: PtyPair
  let slave: ModbusSlave
  /** Reads of each unit's sequence register: the value it answers next. */
  const seq = new Map<number, number>([
    [1, 0],
    [2, 1000],
  ])

  /** The slave's registers: float32 voltage and current (input 0..3), uint32 energy low word first
   *  (holding 100), int16 temperature in tenths (holding 10), two status words and a sequence number that
   *  counts the unit's polls (holding 20..22, read in one request). */
  async function openSlave(): Promise<ModbusSlave> {
    const s = await ModbusSlave.open(pty.host, [1, 2])
    for (const unit of [1, 2]) {
      const f = Buffer.alloc(8)
      f.writeFloatBE(230.1 + unit, 0)
      f.writeFloatBE(-1.25 * unit, 4)
      s.set(unit, 'input', 0, [f.readUInt16BE(0), f.readUInt16BE(2), f.readUInt16BE(4), f.readUInt16BE(6)])
      s.set(unit, 'holding', 100, [0x5678, 0x0012 + unit]) // low word first: 0x0013_5678 for unit 1
      s.set(unit, 'holding', 10, [-215 + unit])
      s.set(unit, 'holding', 20, [unit, 0xbeef, 0])
    }
    s.onRequest = (r: SlaveRequest) => {
      if (r.fn !== 3 || r.address !== 20) return
      const next = (seq.get(r.unit) ?? 0) + 1
      seq.set(r.unit, next)
      s.set(r.unit, 'holding', 22, [next])
    }
    return s
  }

  beforeAll(async () => {
    cloud = await createCloud(dir, true)
    pty = await PtyPair.start(dir, 'rs485')
    slave = await openSlave()
    gateway = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        log: { level: 'debug' },
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        devices: {
          serial: [
            {
              name: 'plant',
              path: pty.device,
              baudRate: 19200,
              framing: 'modbus-rtu',
              topic: 'modbus/{device}/{unit}',
              reopen: { minMs: 50, maxMs: 400 },
              modbus: {
                units: [1, 2],
                intervalMs: 200,
                timeoutMs: 1000,
                registers: [
                  { name: 'voltage', type: 'input', address: 0, format: 'float32' },
                  { name: 'current', type: 'input', address: 2, format: 'float32' },
                  { name: 'energy', type: 'holding', address: 100, format: 'uint32', wordOrder: 'low-first' },
                  { name: 'temp', type: 'holding', address: 10, format: 'int16', scale: 0.1 },
                  { name: 'status', type: 'holding', address: 20, count: 2 },
                  { name: 'seq', type: 'holding', address: 22 },
                ],
              },
            },
          ],
        },
      }),
    )
  })

  afterAll(async () => {
    await gateway?.kill9()
    await slave?.close()
    await pty?.unplug()
    await cloud?.close()
  })

  const readings = (unit: number) =>
    cloud.sink
      .firstCopies()
      .filter((m) => m.topic === `modbus/plant/${unit}`)
      .map((m) => JSON.parse(m.payload.toString()) as Reading)
  const device = async () => (await gateway.status()).devices.serial[0]

  it('each unit’s poll reaches the cloud on its topic as JSON, decoded, in poll order', async (ctx) => {
    const time = deadline(ctx)
    await cloud.sink.waitFor(
      () => readings(1).length >= 8 && readings(2).length >= 8,
      time.left(20_000),
      () => `unit 1: ${readings(1).length}, unit 2: ${readings(2).length}`,
    )
    expect(new Set(cloud.sink.firstCopies().map((m) => m.topic))).toEqual(
      new Set(['modbus/plant/1', 'modbus/plant/2']),
    )
    for (const unit of [1, 2]) {
      const got = readings(unit)
      expect(got[0]).toMatchObject({
        unit,
        values: {
          voltage: unit === 1 ? 231.1 : 232.1,
          current: -1.25 * unit,
          energy: 0x00125678 + unit * 0x10000,
          temp: (-215 + unit) / 10,
          status: [unit, 0xbeef],
        },
      })
      expect(Date.parse(got[0]?.time ?? '')).toBeGreaterThan(Date.now() - 60_000)
      // No poll lost and none reordered: the unit's sequence register counts up by one per poll.
      const first = got[0]?.values.seq ?? 0
      expect(got.map((r) => r.values.seq)).toEqual(got.map((_, i) => first + i))
    }
    // Two input floats share one request; energy, temp and status+seq are three more (gaps between).
    const s = await device()
    expect(s).toMatchObject({ state: 'open', framing: 'modbus-rtu', garbage: {}, dropped: {} })
    expect(s?.polls?.errors).toEqual({})
    expect(s?.polls?.requests).toBeGreaterThanOrEqual(4 * 2 * 8)
    expect(s?.readings).toBeGreaterThanOrEqual(16)
  })

  it('a bad CRC, an exception, silence, another unit’s and another function’s reply are counted by reason; the polls after them arrive', async (ctx) => {
    const time = deadline(ctx)
    const before = { 1: readings(1).length, 2: readings(2).length }
    slave.fault(
      { kind: 'bad-crc' },
      { kind: 'exception', code: 2 },
      { kind: 'silent' },
      { kind: 'wrong-unit' },
      { kind: 'wrong-function' },
    )
    await cloud.sink.waitFor(
      () => readings(1).length >= before[1] + 6 && readings(2).length >= before[2] + 6,
      time.left(20_000),
      () => `unit 1: ${readings(1).length - before[1]}, unit 2: ${readings(2).length - before[2]}`,
    )
    const s = await device()
    expect(s?.polls?.errors).toEqual({
      bad_crc: 1,
      exception: 1,
      timeout: 1,
      wrong_unit: 1,
      wrong_function: 1,
    })
    expect(s?.state).toBe('open')
    for (const unit of [1, 2]) {
      const after = readings(unit).slice(before[unit as 1 | 2])
      expect(after.every((r) => r.values.voltage === 230.1 + unit && r.values.status[1] === 0xbeef)).toBe(
        true,
      )
      // Still in order; a failed poll leaves a gap where its sequence read was answered or never made.
      const all = readings(unit).map((r) => r.values.seq)
      expect(all).toEqual([...all].sort((a, b) => a - b))
      expect(new Set(all).size).toBe(all.length)
    }
    const port = gateway.logs.find((l) => l.msg === 'http listening')?.port as number
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    for (const reason of ['bad_crc', 'exception', 'timeout', 'wrong_unit', 'wrong_function']) {
      expect(metrics).toContain(
        `outpost_device_poll_errors_total{device="plant",type="serial",reason="${reason}"} 1`,
      )
    }
    expect(metrics).toContain(
      'outpost_device_poll_errors_total{device="plant",type="serial",reason="bad_length"} 0',
    )
    expect(metrics).toMatch(/outpost_device_polls_total\{device="plant",type="serial"\} [1-9]/)
    // One warning per unit when it starts failing, one line when it answers again; each failure at debug.
    const failing = gateway.logs.filter((l) => l.msg === 'modbus unit failing')
    expect(failing.every((l) => l.level === 'warn')).toBe(true)
    expect(gateway.logs.filter((l) => l.msg === 'modbus request failed')).toHaveLength(5)
    expect(gateway.child.exitCode).toBeNull()
  })

  it('a slave slower than the interval makes polls skip (counted as overrun); requests never overlap', async (ctx) => {
    const time = deadline(ctx)
    const skippedBefore = (await device())?.polls?.skipped.overrun ?? 0
    const sent = slave.requests.length
    slave.fault(
      { kind: 'slow', delayMs: 500 },
      { kind: 'slow', delayMs: 500 },
      { kind: 'slow', delayMs: 500 },
    )
    const by = performance.now() + time.left(10_000)
    while (((await device())?.polls?.skipped.overrun ?? 0) <= skippedBefore) {
      if (performance.now() > by) throw new Error(`no overrun: ${JSON.stringify(await device())}`)
      await sleep(50)
    }
    // The three slow answers may fall in two polls: wait for the request after them.
    while (slave.requests.length < sent + 4) {
      if (performance.now() > by) throw new Error(`${slave.requests.length - sent} requests since the faults`)
      await sleep(50)
    }
    // One request at a time: each arrived after the answer to the one before was sent (slow ones: 500 ms).
    const during = slave.requests.slice(sent)
    for (let i = 1; i < during.length; i++) {
      expect((during[i]?.at ?? 0) - (during[i - 1]?.at ?? 0)).toBeGreaterThan(0)
    }
    const slow = during.slice(0, 3)
    expect((slow[1]?.at ?? 0) - (slow[0]?.at ?? 0)).toBeGreaterThanOrEqual(490)
    expect((slow[2]?.at ?? 0) - (slow[1]?.at ?? 0)).toBeGreaterThanOrEqual(490)
    expect((await device())?.polls?.errors.timeout).toBe(1) // 500 ms is within timeoutMs: no new failure
  })

  it('unplugged and replugged, the device reopens and polls again; readings continue in order', async (ctx) => {
    const time = deadline(ctx)
    const until = async (what: string, cond: (d: Awaited<ReturnType<typeof device>>) => boolean) => {
      const by = performance.now() + time.left(15_000)
      for (;;) {
        const d = await device()
        if (cond(d)) return
        if (performance.now() > by) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d)}`)
        await sleep(25)
      }
    }
    await slave.close()
    await pty.unplug()
    await until('the unplug to be noticed', (d) => d?.state === 'closed')
    await sleep(300)
    await pty.plug()
    slave = await openSlave()
    await until('the reopen', (d) => d?.state === 'open' && d.opens === 2)
    const before = readings(1).length
    await cloud.sink.waitFor(
      () => readings(1).length >= before + 3,
      time.left(15_000),
      () => `unit 1 after replug: ${readings(1).length - before}`,
    )
    const all = readings(1).map((r) => r.values.seq)
    expect(all).toEqual([...all].sort((a, b) => a - b))
    expect(
      readings(1)
        .slice(before)
        .every((r) => r.values.voltage === 231.1),
    ).toBe(true)
    expect(gateway.child.exitCode).toBeNull()
    expect(await gateway.stop()).toBe(0)
  })
})
