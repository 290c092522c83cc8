// Splits a byte stream at a delimiter, with a length cap. Lines, json-lines and nmea split at "\n" (or
// the configured delimiter); cobs splits at 0x00 and slip at 0xC0, so the cap and the resync after an
// overlong frame are written once.
//
// An overlong frame (more than maxBytes before a delimiter) is reported once and its bytes are dropped
// up to the next delimiter: a 200 kB line without a newline costs at most maxBytes of memory, and the
// frames after it are read as usual. Memory per device: at most maxBytes + one chunk.

export interface LineSplitterSink {
  line(line: Buffer): void
  overlong(bytes: number): void
}

export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0)
  /** Dropping an overlong frame until its delimiter; `dropped` counts its bytes. */
  private discarding = false
  private dropped = 0

  constructor(
    private readonly delimiter: Buffer,
    private readonly maxBytes: number,
    private readonly sink: LineSplitterSink,
  ) {
    if (delimiter.length === 0) throw new Error('empty delimiter')
  }

  push(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    const d = this.delimiter
    let start = 0
    for (let at = buf.indexOf(d, start); at >= 0; at = buf.indexOf(d, start)) {
      if (this.discarding) {
        this.sink.overlong(this.dropped + at - start)
        this.discarding = false
        this.dropped = 0
      } else if (at - start > this.maxBytes) {
        this.sink.overlong(at - start)
      } else {
        this.sink.line(buf.subarray(start, at))
      }
      start = at + d.length
    }
    const rest = buf.length - start
    // Keep the last delimiter.length - 1 bytes of a dropped run: a delimiter may straddle two chunks.
    const keep = Math.min(rest, d.length - 1)
    if (this.discarding) {
      this.dropped += rest - keep
      this.pending = Buffer.from(buf.subarray(buf.length - keep))
    } else if (rest > this.maxBytes) {
      this.discarding = true
      this.dropped = rest - keep
      this.pending = Buffer.from(buf.subarray(buf.length - keep))
    } else {
      // A copy: the port's read buffer is reused.
      this.pending = Buffer.from(buf.subarray(start))
    }
  }

  /** Forgets a partial frame (the port was reopened: what follows is not its continuation). */
  reset(): void {
    this.pending = Buffer.alloc(0)
    this.discarding = false
    this.dropped = 0
  }
}
