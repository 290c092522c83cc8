// Text lines for the line-based framings: split at the delimiter, "\r" around it tolerated ("\r\n" and
// "\n\r" line ends), empty lines skipped (they carry no reading), control bytes and invalid UTF-8
// refused as line noise.
import { isUtf8 } from 'node:buffer'
import type { GarbageReason } from '../errors.js'
import { LineSplitter } from './line-splitter.js'

export interface TextLineSink {
  line(line: Buffer): void
  garbage(reason: GarbageReason, detail: string): void
}

const CR = 0x0d

/**
 * `startAt` finds where the text of a line starts (nmea: at its last "$" or "!", so noise before a
 * sentence on the same line does not cost the sentence).
 */
export function textLineSplitter(
  delimiter: string,
  maxBytes: number,
  sink: TextLineSink,
  startAt: (line: Buffer) => number = () => 0,
): LineSplitter {
  return new LineSplitter(Buffer.from(delimiter), maxBytes, {
    line(raw) {
      let start = Math.max(0, startAt(raw))
      let end = raw.length
      while (start < end && raw[start] === CR) start++
      while (end > start && raw[end - 1] === CR) end--
      if (start === end) return
      const line = raw.subarray(start, end)
      if (!isText(line)) {
        sink.garbage('binary', `control bytes or invalid UTF-8: ${sample(line)}`)
        return
      }
      sink.line(line)
    },
    overlong(bytes) {
      sink.garbage('overlong', `${bytes} bytes without a line end (max ${maxBytes})`)
    },
  })
}

/** UTF-8 without control characters other than tab. */
export function isText(line: Buffer): boolean {
  for (const b of line) if ((b < 0x20 && b !== 0x09) || b === 0x7f) return false
  return isUtf8(line)
}

/** The start of a frame for a log line (hex when it is not text). */
export function sample(bytes: Buffer, max = 48): string {
  const head = bytes.subarray(0, max)
  const text = isText(head) ? JSON.stringify(head.toString('utf8')) : `0x${head.toString('hex')}`
  return bytes.length > max ? `${text}… (${bytes.length} bytes)` : text
}
