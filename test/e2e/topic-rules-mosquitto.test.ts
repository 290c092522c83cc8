// Outpost refuses exactly the topics mosquitto (the upstream it forwards to) refuses: each case of
// test/fixtures/topic-byte-cases.ts is published raw, QoS 1, to a real mosquitto, which either
// acknowledges it or drops the connection as malformed. Stricter than that would refuse what the
// upstream takes; laxer would acknowledge what it drops.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Mosquitto } from '../../scripts/ci/mosquitto.js'
import { TOPIC_BYTE_CASES } from '../fixtures/topic-byte-cases.js'
import { haveMosquitto } from '../helpers/e2e.js'
import { rawConnect, rawPublish } from '../helpers/raw-packets.js'
import { RawSocket } from '../helpers/raw-socket.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('topic rules match mosquitto', () => {
  let mosquitto: Mosquitto | undefined
  beforeAll(async () => {
    mosquitto = await Mosquitto.start({ dir: tempDir('outpost-rules-') })
  })
  afterAll(async () => {
    await mosquitto?.kill()
  })

  test.each(TOPIC_BYTE_CASES)('$name: mosquitto accepts = $ok', async ({ bytes, ok }) => {
    const raw = await RawSocket.open((mosquitto as Mosquitto).port)
    raw.write(rawConnect(Buffer.from('rules-probe')))
    expect(await raw.waitBytes(4)).toBe(true)
    raw.write(rawPublish(Buffer.from(bytes), 'probe', 1, 1))
    // PUBACK (40 02 00 01) or the connection closed.
    const acked = await raw.waitBytes(8, 3000)
    const accepted = acked && raw.received.subarray(4, 8).equals(Buffer.from([0x40, 0x02, 0x00, 0x01]))
    await raw.destroy()
    expect(accepted).toBe(ok)
  })
})
