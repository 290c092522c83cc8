// lines: one reading per text line, published as the line's bytes (without its line end).
import type { Framer, FrameSink, FramingConfig } from './framer.js'
import { textLineSplitter } from './text-lines.js'

export function linesFramer(config: FramingConfig, sink: FrameSink): Framer {
  return textLineSplitter(config.delimiter, config.maxFrameBytes, {
    line: (line) => sink.frame({ payload: Buffer.from(line) }),
    garbage: (reason, detail) => sink.garbage(reason, detail),
  })
}
