// Enforces broker.maxPacketBytes before a packet is buffered. mqtt-packet (inside aedes) buffers a
// whole packet before parsing it, whatever its announced length, so a client announcing 200 MB would
// make the gateway allocate 200 MB. This guard reads only the fixed headers as the bytes go by.
//
// Fixed header [MQTT-2.2]:  byte 1 = type and flags,  then Remaining Length as a variable byte integer
// (7 bits a byte, least significant first, high bit = "more bytes follow", at most 4 bytes)
// [MQTT-2.2.3]; the packet is 1 + (length bytes) + Remaining Length bytes long.
import type { Readable } from 'node:stream'

export type GuardVerdict = { kind: 'oversized'; bytes: number } | { kind: 'malformed'; reason: string }

export class PacketSizeScanner {
  private skip = 0 // body bytes of the current packet still to pass
  private inLength = false
  private lengthValue = 0
  private lengthBytes = 0
  private multiplier = 1

  constructor(private readonly maxBytes: number) {}

  /** Scans the next chunk; returns a verdict at the first packet that breaks the rules. */
  feed(chunk: Uint8Array): GuardVerdict | undefined {
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i)
        this.skip -= take
        i += take
        continue
      }
      if (!this.inLength) {
        // byte 1 of a fixed header
        this.inLength = true
        this.lengthValue = 0
        this.lengthBytes = 0
        this.multiplier = 1
        i++
        continue
      }
      const byte = chunk[i++] as number
      this.lengthValue += (byte & 0x7f) * this.multiplier
      this.multiplier *= 128
      this.lengthBytes++
      if (byte & 0x80) {
        if (this.lengthBytes === 4)
          return { kind: 'malformed', reason: 'remaining length longer than 4 bytes' }
        continue
      }
      const total = 1 + this.lengthBytes + this.lengthValue
      if (total > this.maxBytes) return { kind: 'oversized', bytes: total }
      this.inLength = false
      this.skip = this.lengthValue
    }
    return undefined
  }
}

/**
 * Watches what the broker reads from `stream` and calls `onViolation` (once) at the first oversized or
 * malformed header. Call after the broker attached its 'readable' listener: a 'data' listener added
 * then sees each chunk as the broker reads it, without switching the stream to flowing mode.
 */
export function guardPacketSize(
  stream: Readable,
  maxBytes: number,
  onViolation: (v: GuardVerdict) => void,
): void {
  const scanner = new PacketSizeScanner(maxBytes)
  const onData = (chunk: Buffer) => {
    const verdict = scanner.feed(chunk)
    if (verdict) {
      stream.removeListener('data', onData)
      onViolation(verdict)
    }
  }
  stream.on('data', onData)
}
