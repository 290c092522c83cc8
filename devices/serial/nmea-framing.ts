// nmea: NMEA 0183 sentences, one per line, checksum verified (nmea-sentence.ts), published as JSON. The
// fields of known sentences (GGA, RMC, VTG, GSA, GSV, …) are decoded by nmea-simple; others are
// published with their raw fields: {"talkerId":"P","sentenceId":"UBX","fields":[…]}.
import { parseUnsafeNmeaSentence } from 'nmea-simple'
import type { Framer, FrameSink, FramingConfig } from './framer.js'
import { checkSentence } from './nmea-sentence.js'
import { sample, textLineSplitter } from './text-lines.js'

export function nmeaFramer(config: FramingConfig, sink: FrameSink): Framer {
  // NMEA 0183 lines end in CR LF whatever the device's configured delimiter.
  return textLineSplitter(
    '\n',
    config.maxFrameBytes,
    {
      line(line) {
        const text = line.toString('utf8')
        const check = checkSentence(text)
        if (!check.ok) {
          sink.garbage(check.reason, `${check.detail}: ${sample(line)}`)
          return
        }
        let json: Record<string, unknown>
        try {
          json = decode(check.sentence)
        } catch (err) {
          sink.garbage('nmea_fields', `${(err as Error).message}: ${sample(line)}`)
          return
        }
        sink.frame({ payload: Buffer.from(JSON.stringify(json)), json })
      },
      garbage: (reason, detail) => sink.garbage(reason, detail),
    },
    sentenceStart,
  )
}

/** The last "$" or "!" of a line. */
function sentenceStart(line: Buffer): number {
  return Math.max(line.lastIndexOf(0x24), line.lastIndexOf(0x21))
}

function decode(sentence: string): Record<string, unknown> {
  const packet = parseUnsafeNmeaSentence(sentence) as unknown as Record<string, unknown>
  const { chxOk: _checked, ...fields } = packet
  if (fields.sentenceId === '?') {
    const { originalPacketId, dataFields, sentenceName: _none, ...stub } = fields
    return { ...stub, sentenceId: originalPacketId, fields: dataFields }
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Date && Number.isNaN(value.getTime())) {
      throw new Error(`field ${key} is not a valid time`)
    }
  }
  return fields
}
