// Issue #7 (suspected): a QoS 2 device that reconnects while its message is being committed, and
// resends it on the new connection, must not get it stored twice [MQTT-4.3.3-2]. The commit is held
// in the outbox's batch write (the writeBatch seam), so the resend deterministically arrives while the
// first copy is still being stored — on a connection that has never seen it.
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import type { BatchWriter } from '../../../store/outbox.js'
import { gatewaysPerTest, payloadText, RawMqtt, readOutbox, sleep, until } from './harness.js'

const { start } = gatewaysPerTest()
const raws: RawMqtt[] = []
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.end()))
})

const publish7 = (dup: boolean): IPublishPacket => ({
  cmd: 'publish',
  topic: 'sensors/roamer/telemetry',
  payload: Buffer.from('roaming'),
  qos: 2,
  messageId: 7,
  dup,
  retain: false,
})

const is = (cmd: Packet['cmd']) => (p: Packet) =>
  p.cmd === cmd && (p as { messageId?: number }).messageId === 7

/** A batch writer that holds writes while `hold` is set, and says when one is waiting. */
function heldWriter() {
  let release: () => void = () => undefined
  const state = { hold: false, waiting: false }
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const writeBatch: BatchWriter = async (batch, options) => {
    if (state.hold) {
      state.waiting = true
      await gate
    }
    await batch.write(options)
  }
  return { state, writeBatch, release }
}

describe('QoS 2 across a reconnect', () => {
  test('a resend on a new connection while the first copy is being committed is stored once', async () => {
    const writer = heldWriter()
    const gw = await start({}, { writeBatch: writer.writeBatch })
    const first = await RawMqtt.open(gw.port, 'q2-roamer', { clean: false })
    raws.push(first)
    writer.state.hold = true
    first.send(publish7(false))
    expect(await until(() => writer.state.waiting, 5000)).toBe(true) // its commit is in progress

    // The device gives up on that connection and resends on a new one (same session).
    const second = await RawMqtt.open(gw.port, 'q2-roamer', { clean: false })
    raws.push(second)
    await first.closedPromise // taken over
    second.send(publish7(true))
    await sleep(200) // the resend is handled while the first copy is still held
    writer.state.hold = false
    writer.release()

    await second.next(is('pubrec'))
    second.send({ cmd: 'pubrel', messageId: 7 })
    await second.next(is('pubcomp'))
    const status = await gw.gateway.status()
    expect(status.outbox.messages, 'records in the outbox for one QoS 2 message').toBe(1)
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(['roaming'])
  })
})
