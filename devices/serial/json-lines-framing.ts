// json-lines: one JSON value per line, published verbatim; a line that does not parse is garbage. The
// parsed value feeds the topic template's {json.…} fields.
import type { Framer, FrameSink, FramingConfig } from './framer.js'
import { sample, textLineSplitter } from './text-lines.js'

export function jsonLinesFramer(config: FramingConfig, sink: FrameSink): Framer {
  return textLineSplitter(config.delimiter, config.maxFrameBytes, {
    line(line) {
      let json: unknown
      try {
        json = JSON.parse(line.toString('utf8'))
      } catch {
        sink.garbage('invalid_json', `not JSON: ${sample(line)}`)
        return
      }
      sink.frame({ payload: Buffer.from(line), json })
    },
    garbage: (reason, detail) => sink.garbage(reason, detail),
  })
}
