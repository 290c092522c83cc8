// A serial device's readings enter by the same ingest seam as MQTT publishes: stored in the outbox with
// the device as origin, delivered to local subscribers once committed, and — when the outbox refuses
// them — dropped and counted with the reason (a serial line cannot be asked to resend), in /api/status
// and the log, without stopping the device.
import { describe, expect, test } from 'vitest'
import { PtyWriter } from '../../devices/simulator/pty-writer.js'
import { haveSocat, PtyPair } from '../helpers/socat.js'
import { tempDir } from '../helpers/tmp.js'
import { collect, connectClient, gatewaysPerTest, payloadText, readOutbox, until } from './broker/harness.js'

const { pool, start } = gatewaysPerTest()

describe.runIf(haveSocat())('serial readings through ingest', () => {
  test('outbox full (reject): the 6th reading on is dropped as outbox_full and counted; the first five are stored and heard locally', async () => {
    const pty = await PtyPair.start(tempDir(), 'tty')
    try {
      const gw = await start(
        {
          outbox: { maxMessages: 5, whenFull: 'reject' },
          devices: {
            serial: [
              {
                name: 'meter',
                path: pty.device,
                framing: 'lines',
                topic: 'meters/{device}',
                reopen: { minMs: 20, maxMs: 100 },
              },
            ],
          },
        },
        { logLevel: 'info' },
      )
      const status = async () => (await gw.gateway.status()).devices.serial[0]
      expect(await until(async () => (await status())?.state === 'open', 5000)).toBe(true)
      const listener = pool.add(await connectClient(gw.url, { clientId: 'serial-listener' }))
      const heard = collect(listener)
      await listener.subscribeAsync('meters/#', { qos: 1 })

      const writer = await PtyWriter.open(pty.host)
      for (let i = 0; i < 8; i++) writer.write(Buffer.from(`kwh=${i}\n`))
      // The refusals can come before the commit of the five taken (an fsync on a busy disk): both.
      expect(
        await until(async () => {
          const s = await status()
          return s?.dropped.outbox_full === 3 && s.pending === 0
        }, 5000),
      ).toBe(true)
      expect(await status()).toMatchObject({ state: 'open', frames: 8, readings: 5, pending: 0 })
      expect(await until(() => heard.length === 5, 5000)).toBe(true)
      expect(heard.map((m) => [m.topic, m.payload])).toEqual(
        Array.from({ length: 5 }, (_, i) => ['meters/meter', `kwh=${i}`]),
      )
      const warned = gw.logs.lines.filter((l) => l.msg.startsWith('serial readings dropped'))
      expect(warned.map((l) => [l.level, l.reason])).toEqual([['warn', 'outbox_full']])
      await writer.close()
      await gw.stop()

      const records = await readOutbox(gw.dataDir)
      expect(records.map((r) => [r.topic, payloadText(r), r.origin, r.qos])).toEqual(
        Array.from({ length: 5 }, (_, i) => ['meters/meter', `kwh=${i}`, 'meter', 1]),
      )
    } finally {
      await pty.unplug()
    }
  })
})
