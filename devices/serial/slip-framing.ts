// slip: Serial Line IP framing (RFC 1055), published as the decoded bytes.
//
//   frame = *( OCTET-but-END-ESC / ESC ESC_END / ESC ESC_ESC ) END
//   END = 0xC0, ESC = 0xDB, ESC_END = 0xDC (stands for 0xC0), ESC_ESC = 0xDD (stands for 0xDB)
//
// Senders often start a frame with END as well, to flush line noise: empty frames are skipped.
import type { Framer, FrameSink, FramingConfig } from './framer.js'
import { LineSplitter } from './line-splitter.js'
import { sample } from './text-lines.js'

export const SLIP = { END: 0xc0, ESC: 0xdb, ESC_END: 0xdc, ESC_ESC: 0xdd } as const

export function slipFramer(config: FramingConfig, sink: FrameSink): Framer {
  return new LineSplitter(Buffer.from([SLIP.END]), config.maxFrameBytes, {
    line(encoded) {
      if (encoded.length === 0) return
      const decoded = slipDecode(encoded)
      if (decoded === undefined)
        sink.garbage('bad_frame', `SLIP escape not followed by 0xDC or 0xDD: ${sample(encoded)}`)
      else sink.frame({ payload: decoded })
    },
    overlong: (bytes) => sink.garbage('overlong', `${bytes}-byte SLIP frame (max ${config.maxFrameBytes})`),
  })
}

export function slipDecode(encoded: Buffer): Buffer | undefined {
  const out = Buffer.allocUnsafe(encoded.length)
  let o = 0
  for (let i = 0; i < encoded.length; i++) {
    const b = encoded[i] as number
    if (b !== SLIP.ESC) {
      out[o++] = b
      continue
    }
    const next = encoded[++i]
    if (next === SLIP.ESC_END) out[o++] = SLIP.END
    else if (next === SLIP.ESC_ESC) out[o++] = SLIP.ESC
    else return undefined
  }
  return Buffer.from(out.subarray(0, o))
}
