// NMEA 0183 sentence grammar, checked before any field is decoded:
//
//   sentence = start address *( "," field ) "*" checksum     ; then CR LF (split off by the framing)
//   start    = "$" / "!"                 ; "!" starts encapsulated sentences (AIS)
//   address  = 1*6( UPPER / DIGIT )      ; talker + type ("GPGGA"), or "P" + vendor type ("PUBX")
//   field    = *( printable ASCII but "*", "$", "!" )
//   checksum = 2HEXDIG                   ; XOR of every byte between start and "*", both excluded
//
// NMEA 0183 caps a sentence at 82 characters; receivers' proprietary sentences often break that, so the
// device's maxFrameBytes is the cap here. The checksum is required (NMEA 0183 v4 makes it mandatory).

export type SentenceCheck =
  | { ok: true; sentence: string }
  | { ok: false; reason: 'not_nmea' | 'bad_checksum'; detail: string }

const SENTENCE_RE = /^[$!][A-Z0-9]{1,6}(,[\x20-\x7e]*)?\*([0-9A-Fa-f]{2})$/
const NO_CHECKSUM_RE = /^[$!][A-Z0-9]{1,6}(,[\x20-\x7e]*)?$/

/**
 * Finds the sentence in a line (from its last "$" or "!": noise before a sentence on the same line is
 * skipped, the usual resynchronisation) and verifies its grammar and checksum.
 */
export function checkSentence(line: string): SentenceCheck {
  const start = Math.max(line.lastIndexOf('$'), line.lastIndexOf('!'))
  if (start < 0) return { ok: false, reason: 'not_nmea', detail: 'no "$" or "!"' }
  const sentence = line.slice(start)
  const m = SENTENCE_RE.exec(sentence)
  if (!m || /[$!*]/.test(sentence.slice(1, sentence.length - 3))) {
    if (NO_CHECKSUM_RE.test(sentence)) return { ok: false, reason: 'bad_checksum', detail: 'no checksum' }
    return { ok: false, reason: 'not_nmea', detail: 'not a sentence' }
  }
  const expected = checksum(sentence.slice(1, sentence.length - 3))
  const got = Number.parseInt(m[2] as string, 16)
  if (expected !== got) {
    return {
      ok: false,
      reason: 'bad_checksum',
      detail: `checksum ${hex(got)}, computed ${hex(expected)}`,
    }
  }
  return { ok: true, sentence }
}

/** XOR of the characters' codes (the body between start and "*"). */
export function checksum(body: string): number {
  let sum = 0
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i)
  return sum & 0xff
}

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0')

/** Appends "*HH": for writers of sentences (the simulator). */
export function withChecksum(sentenceWithoutChecksum: string): string {
  return `${sentenceWithoutChecksum}*${hex(checksum(sentenceWithoutChecksum.slice(1)))}`
}
