// cobs: Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999), frames delimited by 0x00, published
// as the decoded bytes.
//
//   frame = 1*block                 ; encoded; never contains 0x00
//   block = code (code - 1)OCTET    ; code 0x01..0xFF; the block stands for its data bytes followed by
//                                   ; one 0x00, except after a 0xFF block and after the frame's last block
import type { Framer, FrameSink, FramingConfig } from './framer.js'
import { LineSplitter } from './line-splitter.js'
import { sample } from './text-lines.js'

export function cobsFramer(config: FramingConfig, sink: FrameSink): Framer {
  return new LineSplitter(Buffer.from([0x00]), config.maxFrameBytes, {
    line(encoded) {
      if (encoded.length === 0) return // back-to-back delimiters (a sender resynchronising)
      const decoded = cobsDecode(encoded)
      if (decoded === undefined)
        sink.garbage('bad_frame', `COBS block runs past the frame: ${sample(encoded)}`)
      else sink.frame({ payload: decoded })
    },
    overlong: (bytes) => sink.garbage('overlong', `${bytes}-byte COBS frame (max ${config.maxFrameBytes})`),
  })
}

export function cobsDecode(encoded: Buffer): Buffer | undefined {
  const out = Buffer.allocUnsafe(encoded.length)
  let o = 0
  let i = 0
  while (i < encoded.length) {
    const code = encoded[i] as number
    if (code === 0 || i + code > encoded.length) return undefined
    encoded.copy(out, o, i + 1, i + code)
    o += code - 1
    i += code
    if (code !== 0xff && i < encoded.length) out[o++] = 0
  }
  return Buffer.from(out.subarray(0, o))
}
