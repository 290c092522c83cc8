// Writing to a pty must not block: when nobody reads the other end, frames wait in a bounded queue, the
// rest are dropped and counted, timers keep firing, and close() returns at once.
import { describe, expect, test } from 'vitest'
import { PtyWriter } from '../../../devices/simulator/pty-writer.js'
import { haveSocat, PtyPair } from '../../helpers/socat.js'
import { tempDir } from '../../helpers/tmp.js'

describe.runIf(haveSocat())('PtyWriter', () => {
  test('a reader that never reads: 4 MiB offered, at most maxBufferedBytes queued, the rest dropped; nothing blocks', async () => {
    const pty = await PtyPair.start(tempDir(), 'tty')
    try {
      const writer = await PtyWriter.open(pty.host, { maxBufferedBytes: 256 * 1024 })
      let ticks = 0
      const timer = setInterval(() => ticks++, 5)
      const frame = Buffer.alloc(64 * 1024, 0x55)
      for (let i = 0; i < 64; i++) {
        writer.write(frame)
        await new Promise((r) => setTimeout(r, 5))
      }
      clearInterval(timer)
      expect(ticks).toBeGreaterThan(20) // the event loop kept running
      expect(writer.stats.dropped).toBeGreaterThan(0)
      expect(writer.stats.frames + writer.stats.dropped).toBe(64)
      expect(await writer.drain(100)).toBe(false) // the reader never takes them
      const closing = performance.now()
      await writer.close()
      expect(performance.now() - closing).toBeLessThan(2000)
    } finally {
      await pty.unplug()
    }
  })
})
