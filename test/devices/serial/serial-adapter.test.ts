// The serial adapter: frames become readings on their topics, refusals are counted as drops, and a port
// that is missing, unplugged (socat stopped) or replugged fast is reopened and read again.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SerialPortMock } from 'serialport'
import { afterEach, describe, expect, test } from 'vitest'
import { compileDeviceTopic } from '../../../config/device-topic.js'
import { configSchema, type SerialDeviceConfig } from '../../../config/schema.js'
import type { DeviceLogger } from '../../../devices/device-logger.js'
import type { DeviceReading, PublishOutcome } from '../../../devices/device-publish.js'
import { SerialAdapter, type SerialAdapterOptions } from '../../../devices/serial/serial-adapter.js'
import { PtyWriter } from '../../../devices/simulator/pty-writer.js'
import { haveSocat, PtyPair } from '../../helpers/socat.js'
import { tempDir } from '../../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function device(fields: Record<string, unknown>): SerialDeviceConfig {
  const config = configSchema.parse({
    gatewayId: 'gw',
    devices: { serial: [{ name: 'dev', path: '/dev/null', topic: 'serial/{device}', ...fields }] },
  })
  return config.devices.serial[0] as SerialDeviceConfig
}

interface LogLine {
  level: string
  msg: string
  obj: Record<string, unknown>
}

function recorder() {
  const lines: LogLine[] = []
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, msg, obj: obj as Record<string, unknown> })
    }
  const logger: DeviceLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { lines, logger }
}

const adapters: SerialAdapter[] = []
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((a) => a.stop()))
})

function adapter(
  config: SerialDeviceConfig,
  publish: (r: DeviceReading) => PublishOutcome,
  extra: Partial<SerialAdapterOptions> = {},
) {
  const log = recorder()
  const readings: DeviceReading[] = []
  const a = new SerialAdapter({
    config,
    topic: compileDeviceTopic(config.topic, config.framing, { device: config.name, gatewayId: 'gw' }),
    publish: (r, done) => {
      readings.push(r)
      const outcome = publish(r)
      setImmediate(() => done(outcome))
    },
    logger: log.logger,
    pathCheckMs: 50,
    ...extra,
  })
  adapters.push(a)
  a.start()
  return { a, readings, log }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const by = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > by) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
}

describe('serial adapter on @serialport/binding-mock', () => {
  test('json-lines: each line is published on the topic its field names; a refused reading is counted as dropped with its reason', async () => {
    const path = `/dev/MOCK-${process.pid}`
    SerialPortMock.binding.createPort(path)
    let mock: SerialPortMock | undefined
    const config = device({
      path,
      framing: 'json-lines',
      topic: 'site/{gatewayId}/{json.id}/{device}',
      qos: 0,
    })
    let refuse = false
    const { a, readings, log } = adapter(
      config,
      () => (refuse ? { taken: false, reason: 'outbox_full' } : { taken: true, stored: true }),
      {
        createLink: (o) => {
          mock = new SerialPortMock({ path: o.path, baudRate: o.baudRate, autoOpen: false })
          return mock
        },
        identify: async () => 'mock',
      },
    )
    await until(() => a.status().state === 'open', 5000, 'open')
    mock?.port?.emitData(Buffer.from('{"id":"t1","v":1}\n{"v":2}\n{"id":"a/b"}\n{"id":"t2","v":3}\n'))
    await until(() => a.status().readings === 2, 5000, 'two readings')
    expect(readings.map((r) => [r.topic, r.payload.toString(), r.qos, r.origin])).toEqual([
      ['site/gw/t1/dev', '{"id":"t1","v":1}', 0, 'dev'],
      ['site/gw/t2/dev', '{"id":"t2","v":3}', 0, 'dev'],
    ])
    expect(a.status().garbage).toEqual({ topic_field: 2 })

    refuse = true
    mock?.port?.emitData(Buffer.from('{"id":"t3"}\n{"id":"t4"}\n'))
    await until(() => a.status().dropped.outbox_full === 2, 5000, 'two drops')
    refuse = false
    mock?.port?.emitData(Buffer.from('{"id":"t5"}\n'))
    await until(() => a.status().readings === 3, 5000, 'a reading after the refusals')
    expect(a.status()).toMatchObject({
      state: 'open',
      frames: 7,
      readings: 3,
      pending: 0,
      dropped: { outbox_full: 2 },
    })
    // One warning when refusals start, one line when readings are taken again.
    expect(
      log.lines.filter((l) => l.msg.startsWith('serial readings')).map((l) => [l.level, l.obj.dropped]),
    ).toEqual([
      ['warn', undefined],
      ['info', 2],
    ])
  })
})

describe.runIf(haveSocat())('serial adapter on real ptys (socat)', () => {
  test('missing at start, then plugged: one warning, then it opens and reads', async () => {
    const dir = tempDir()
    const config = device({ path: join(dir, 'tty'), reopen: { minMs: 20, maxMs: 100 } })
    const { a, readings, log } = adapter(config, () => ({ taken: true, stored: true }))
    await until(() => a.status().state === 'closed', 5000, 'closed')
    expect(a.status().error?.code).toBe('OUTPOST_DEVICE_NOT_FOUND')
    await sleep(300) // several retries meanwhile
    const pty = await PtyPair.start(dir, 'tty')
    const writer = await PtyWriter.open(pty.host)
    try {
      await until(() => a.status().state === 'open', 5000, 'open')
      writer.write(Buffer.from('hello\r\n'))
      await until(() => readings.length === 1, 5000, 'a reading')
      expect(readings[0]?.payload.toString()).toBe('hello')
      const warnings = log.lines.filter((l) => l.level === 'warn')
      expect(warnings.map((l) => [l.msg, l.obj.code])).toEqual([
        ['serial device unavailable: retrying', 'OUTPOST_DEVICE_NOT_FOUND'],
      ])
    } finally {
      await writer.close()
      await pty.unplug()
    }
  })

  for (const how of ['SIGTERM', 'SIGKILL', 'fast replug'] as const) {
    test(`unplugged (${how}) and replugged: the adapter notices, reopens, and reads what comes after`, async () => {
      const dir = tempDir()
      const pty = await PtyPair.start(dir, 'tty')
      const config = device({ path: pty.device, reopen: { minMs: 20, maxMs: 100 } })
      const { a, readings, log } = adapter(config, () => ({ taken: true, stored: true }))
      try {
        for (let round = 1; round <= 2; round++) {
          await until(() => a.status().state === 'open' && a.status().opens === round, 5000, `open #${round}`)
          const writer = await PtyWriter.open(pty.host)
          writer.write(Buffer.from(`round ${round}\n`))
          await until(() => readings.length === round, 5000, `reading of round ${round}`)
          await writer.close()
          await pty.unplug(how === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM')
          if (how !== 'fast replug') {
            await until(() => a.status().state === 'closed', 5000, 'noticed the unplug')
          }
          await pty.plug()
        }
        await until(() => a.status().opens === 3, 5000, 'third open')
        expect(readings.map((r) => r.payload.toString())).toEqual(['round 1', 'round 2'])
        const changes = log.lines.filter((l) => l.level !== 'debug').map((l) => l.msg)
        expect(changes.filter((m) => m === 'serial device open')).toHaveLength(3)
        expect(changes.filter((m) => m === 'serial device lost: reopening')).toHaveLength(2)
      } finally {
        await pty.unplug()
      }
    })
  }

  test('a path that is not a tty fails to open and is retried, without crashing', async () => {
    const dir = tempDir()
    const path = join(dir, 'not-a-tty')
    writeFileSync(path, 'plain file')
    const { a } = adapter(device({ path, reopen: { minMs: 20, maxMs: 50 } }), () => ({
      taken: true,
      stored: true,
    }))
    await until(() => a.status().error?.code === 'OUTPOST_DEVICE_OPEN_FAILED', 5000, 'open failure')
    expect(a.status().state).toBe('closed')
  })
})

describe('serial adapter backpressure', () => {
  test('reading pauses while maxPending readings await the outbox, and resumes as they commit; nothing is lost', async () => {
    const path = `/dev/MOCK-BP-${process.pid}`
    SerialPortMock.binding.createPort(path)
    let mock: SerialPortMock | undefined
    const held: Array<() => void> = []
    const config = device({ path })
    const log = recorder()
    const readings: string[] = []
    const a = new SerialAdapter({
      config,
      topic: () => 't',
      publish: (r, done) => {
        readings.push(r.payload.toString())
        held.push(() => done({ taken: true, stored: true }))
      },
      logger: log.logger,
      maxPending: 4,
      createLink: (o) => {
        mock = new SerialPortMock({ path: o.path, baudRate: o.baudRate, autoOpen: false })
        return mock
      },
      identify: async () => 'mock',
    })
    adapters.push(a)
    a.start()
    await until(() => a.status().state === 'open', 5000, 'open')
    mock?.port?.emitData(Buffer.from('1\n2\n3\n4\n5\n'))
    await until(() => readings.length === 5, 5000, 'the first chunk')
    expect(a.status().pending).toBe(5)
    expect(mock?.isPaused()).toBe(true)
    mock?.port?.emitData(Buffer.from('6\n7\n'))
    await sleep(100)
    expect(readings).toHaveLength(5) // waiting in the stream (then the driver), not read
    for (const release of held.splice(0, 3)) release() // 2 pending: at most half of maxPending
    await until(() => readings.length === 7, 5000, 'the rest after resuming')
    for (const release of held.splice(0)) release()
    expect(a.status()).toMatchObject({ readings: 7, pending: 0 })
  })
})

describe('serial adapter faults', () => {
  test('a link that throws while being created is retried as OPEN_FAILED; the adapter stops cleanly', async () => {
    let attempts = 0
    const { a, log } = adapter(
      device({ reopen: { minMs: 10, maxMs: 20 } }),
      () => ({ taken: true, stored: true }),
      {
        createLink: () => {
          attempts++
          throw new TypeError('"baudRate" is not supported here')
        },
        identify: async () => 'mock',
      },
    )
    await until(() => attempts >= 3, 5000, 'three attempts')
    expect(a.status()).toMatchObject({ state: 'closed', error: { code: 'OUTPOST_DEVICE_OPEN_FAILED' } })
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1)
    await a.stop()
    expect(a.status().state).toBe('stopped')
  })
})
