// A QoS 1 PUBACK goes out only once the outbox has written the message (issue #12). graceful-stop's
// "every acknowledged publish is in the outbox after stop()" cannot see a PUBACK sent before the
// commit, since stop() flushes what is pending anyway. Here the outbox's writer (its injected
// `writeBatch`) holds the batch, and a raw MQTT client watches for PUBACKs meanwhile.
//
// The broker, router and outbox are composed as the gateway composes them (gateway.ts), over real TCP
// and a real LevelDB; only the writer is wrapped.
import { join } from 'node:path'
import type { Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import { validateConfig } from '../../../config/load.js'
import { Broker } from '../../../gateway/broker/broker.js'
import { createIngest } from '../../../gateway/ingest.js'
import { createLogger } from '../../../gateway/logger.js'
import { PendingBytes } from '../../../gateway/pending-bytes.js'
import { Router } from '../../../gateway/router.js'
import { type Durability, Outbox } from '../../../store/outbox.js'
import { NO_DISK_GUARD, payloadsOf, readAll } from '../../helpers/outbox.js'
import { type RecordedWrite, RecordingWriter } from '../../helpers/recording-writer.js'
import { tempDir } from '../../helpers/tmp.js'
import { LogSink, RawMqtt, until } from './harness.js'

const MESSAGES = 5

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A write the test lets go of (or fails) when it chooses. */
class Gate {
  private release: (() => void) | undefined
  private fail: ((err: Error) => void) | undefined
  held: RecordedWrite | undefined
  closed = true

  hold = (write: RecordedWrite): Promise<void> | undefined => {
    if (!this.closed) return undefined
    this.held = write
    return new Promise<void>((resolve, reject) => {
      this.release = resolve
      this.fail = reject
    })
  }

  open(): void {
    this.closed = false
    this.release?.()
  }

  failWith(err: Error): void {
    this.closed = false
    this.fail?.(err)
  }
}

async function setUp(durability: Durability) {
  const config = validateConfig(
    {
      gatewayId: 'gw-puback',
      dataDir: tempDir(),
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], allowAnonymous: true },
    },
    'puback-test.yaml',
    { env: {} },
  )
  const gate = new Gate()
  const writer = new RecordingWriter({ hold: gate.hold })
  const outbox = await Outbox.open({
    dir: join(tempDir(), 'data'),
    ...NO_DISK_GUARD,
    durability,
    writeBatch: writer.writeBatch,
  })
  writer.attach(outbox)
  cleanups.push(() => outbox.close())
  const logs = new LogSink()
  const pending = new PendingBytes(config.broker.maxPendingBytes)
  const broker = new Broker({
    config: config.broker,
    ingest: createIngest(new Router(config.routes, config.gatewayId), outbox, { pending }),
    pending,
    logger: createLogger({ level: 'warn', destination: logs }),
  })
  await broker.start()
  cleanups.push(() => broker.stop())
  const port = broker.addresses[0]?.port as number
  const device = await RawMqtt.open(port, 'dev-puback')
  cleanups.push(() => device.end())
  // First of all after a failed test: let a held write go, or closing the outbox would wait for it.
  cleanups.push(async () => gate.open())
  return { gate, writer, outbox, device, logs }
}

function publishes(n: number): Packet[] {
  return Array.from({ length: n }, (_, i) => ({
    cmd: 'publish',
    topic: 'sensors/dev-puback/telemetry',
    payload: Buffer.from(`reading-${i}`),
    qos: 1,
    messageId: i + 1,
    retain: false,
    dup: false,
  }))
}

const isPuback = (p: Packet) => p.cmd === 'puback'

describe.each(['fsync', 'batch', 'none'] as const)('durability %s', (durability) => {
  test('no PUBACK while the batch holding the messages is being written; all of them once it is', async () => {
    const { gate, writer, outbox, device } = await setUp(durability)
    device.send(...publishes(MESSAGES))
    expect(await until(() => gate.held !== undefined, 10_000), 'the appends reached the writer').toBe(true)
    expect(
      await until(() => device.count(isPuback) > 0, 500),
      `PUBACKs while their batch is held: ${device.count(isPuback)}`,
    ).toBe(false)

    const held = gate.held as RecordedWrite
    gate.open()
    await device.waitCount(isPuback, MESSAGES, 10_000)
    expect(held.doneTick, 'the held batch was written').toBeDefined()
    expect(writer.writeHolding(1)?.sync, 'the batch is synced in fsync mode only').toBe(
      durability === 'fsync',
    )
    expect(payloadsOf(await readAll(outbox))).toEqual(publishes(MESSAGES).map((_, i) => `reading-${i}`))
  })
})

test('a batch that fails to write: no PUBACK for its messages, and the device is disconnected', async () => {
  const { gate, device, logs } = await setUp('fsync')
  device.send(...publishes(MESSAGES))
  expect(await until(() => gate.held !== undefined, 10_000), 'the appends reached the writer').toBe(true)
  gate.failWith(new Error('simulated write failure'))
  await device.closedPromise
  expect(device.count(isPuback)).toBe(0)
  expect(logs.messages('warn')).toContain('message not stored: no PUBACK, client disconnected')
})
