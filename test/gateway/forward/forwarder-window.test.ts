// The forwarder's window bounds what a crash resends (issue #12). A message keeps its slot until the
// cursor past it is on disk, so at any moment the upstream holds at most maxInflight messages beyond
// the persisted cursor: a crash then resends at most that many. With the cursor written within
// microseconds, a slot freed at the ack instead would go unnoticed; here every cursor write is held
// (the outbox's injected writer), and the test tracks what is persisted.
//
// Real parts: a real Outbox, a real MqttForwarder and Debian's mosquitto with a recording sink.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { validateConfig } from '../../../config/load.js'
import type { MqttUpstreamConfig } from '../../../config/schema.js'
import { MqttForwarder } from '../../../gateway/forward/mqtt-forwarder.js'
import { createLogger } from '../../../gateway/logger.js'
import { Mosquitto } from '../../../scripts/ci/mosquitto.js'
import { type BatchWriter, Outbox } from '../../../store/outbox.js'
import { haveMosquitto } from '../../helpers/e2e.js'
import { NO_DISK_GUARD, range, rec, sleep } from '../../helpers/outbox.js'
import { tempDir } from '../../helpers/tmp.js'
import { UpstreamSink } from '../../helpers/upstream-sink.js'
import { LogSink } from '../broker/harness.js'

const MAX_INFLIGHT = 3
const RECORDS = 30
const CURSOR_WRITE_MS = 150

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function upstreamConfig(url: string): MqttUpstreamConfig {
  const config = validateConfig(
    {
      gatewayId: 'gw-window',
      dataDir: tempDir(),
      upstreams: [
        { name: 'cloud', type: 'mqtt', url, maxInflight: MAX_INFLIGHT, reconnect: { minMs: 50, maxMs: 300 } },
      ],
    },
    'forwarder-window-test.yaml',
    { env: {} },
  )
  return config.upstreams[0] as MqttUpstreamConfig
}

describe.runIf(haveMosquitto())('forwarder window', () => {
  test(`the upstream never holds more than maxInflight (${MAX_INFLIGHT}) messages beyond the persisted cursor`, async () => {
    const dir = tempDir()
    const mosquitto = await Mosquitto.start({ dir: join(dir, 'mosquitto') })
    cleanups.push(() => mosquitto.kill())
    const sink = new UpstreamSink(mosquitto.url, '#')
    await sink.connect()
    cleanups.push(() => sink.close(true))

    // The cursor in a batch is the in-memory position when the batch is handed to the writer (the
    // outbox takes its cursor changes and calls the writer in one synchronous step); once the write is
    // done, that position is on disk.
    let outbox: Outbox | undefined
    let persisted = 0
    let holdWrites = false
    const writeBatch: BatchWriter = async (batch, options) => {
      const position = outbox?.cursorNames().includes('cloud') ? outbox.cursor('cloud') : 0
      if (holdWrites) await sleep(CURSOR_WRITE_MS)
      await batch.write(options)
      persisted = Math.max(persisted, position)
    }
    outbox = await Outbox.open({ dir: join(dir, 'data'), ...NO_DISK_GUARD, writeBatch })
    const box = outbox
    cleanups.push(() => box.close())
    box.cursor('cloud')
    await box.append(range(1, RECORDS).map((i) => rec(i)))
    holdWrites = true // from here on every batch is a cursor move (and the retention it allows)

    const forwarder = new MqttForwarder({
      config: upstreamConfig(mosquitto.url),
      gatewayId: 'gw-window',
      outbox: box,
      logger: createLogger({ level: 'warn', destination: new LogSink() }),
    })
    cleanups.push(() => forwarder.stop())

    // Checked on every message the sink receives.
    let worst = 0
    let worstAt = ''
    const beyond = () => {
      const seqs = new Set(sink.messages.map((m) => m.seq as number).filter((s) => s > persisted))
      if (seqs.size > worst) {
        worst = seqs.size
        worstAt = `persisted cursor ${persisted}, received beyond it: ${[...seqs].sort((a, b) => a - b)}`
      }
    }
    forwarder.start()
    await sink.waitFor(
      () => {
        beyond()
        return sink.uniqueCount() >= RECORDS
      },
      20_000,
      () => `${sink.uniqueCount()}/${RECORDS} messages; persisted cursor ${persisted}`,
    )
    expect(worst, worstAt).toBeLessThanOrEqual(MAX_INFLIGHT)
    expect(worst, 'the window was used (the test had something to see)').toBeGreaterThan(0)
    expect(new Set(sink.messages.map((m) => m.seq))).toEqual(new Set(range(1, RECORDS)))
  })
})
