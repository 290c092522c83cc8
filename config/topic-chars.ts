// What a topic (and a client id) may contain, so that what Outpost acknowledges can be forwarded
// verbatim. MQTT 3.1.1 §1.5.3 requires well-formed UTF-8 without U+0000 [MQTT-1.5.3-1, -2] and lets a
// receiver refuse control characters and noncharacters [MQTT-1.5.3-4 (SHOULD NOT)]. Outpost refuses
// exactly what mosquitto's validator (mosquitto_validate_utf8, applied to every string it reads) refuses,
// because a strict upstream drops the whole connection on one such string:
//
//   - ill-formed UTF-8: a stray continuation byte, a truncated sequence, an overlong encoding
//     (C0/C1 leads, E0 80..9F, F0 80..8F), a surrogate (ED A0..BF), a code point above U+10FFFF (F4 90+,
//     F5..FF);
//   - U+0000..U+001F and U+007F..U+009F (controls);
//   - noncharacters U+FDD0..U+FDEF and U+xFFFE, U+xFFFF in every plane.
//
// Everything else is allowed, U+FFFD and U+FEFF included (a BOM is a character here [MQTT-1.5.3-3]).

/**
 * Checks UTF-8 bytes as they stream past (a topic can span socket reads). feed() each byte, then end();
 * both return a problem description at the first offending byte, or undefined.
 */
export class Utf8TopicChecker {
  private need = 0 // continuation bytes still expected
  private cp = 0 // code point being assembled
  private min = 0 // smallest code point the sequence's length may encode (overlong below it)

  reset(): void {
    this.need = 0
  }

  /** Between characters (no multi-byte sequence open): printable ASCII needs no feed() then. */
  get between(): boolean {
    return this.need === 0
  }

  /** `b` is a byte (0..255). */
  feed(b: number): string | undefined {
    if (this.need === 0) {
      if (b < 0x80) {
        // ASCII: NUL and the C0 controls, and DEL.
        return b < 0x20 || b === 0x7f ? controlProblem(b) : undefined
      }
      if (b >= 0xc2 && b <= 0xdf) {
        this.need = 1
        this.cp = b & 0x1f
        this.min = 0x80
      } else if (b >= 0xe0 && b <= 0xef) {
        this.need = 2
        this.cp = b & 0x0f
        this.min = 0x800
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.need = 3
        this.cp = b & 0x07
        this.min = 0x10000
      } else {
        return b < 0xc0 ? `stray UTF-8 continuation byte 0x${hex(b)}` : `invalid UTF-8 lead byte 0x${hex(b)}`
      }
      return undefined
    }
    if ((b & 0xc0) !== 0x80) {
      this.need = 0
      return `truncated UTF-8 sequence before byte 0x${hex(b)}`
    }
    this.cp = (this.cp << 6) | (b & 0x3f)
    if (--this.need > 0) return undefined
    if (this.cp < this.min) return `overlong UTF-8 encoding of U+${cpHex(this.cp)}`
    return codePointProblem(this.cp)
  }

  /** The string ended: a sequence must not be left open. */
  end(): string | undefined {
    if (this.need === 0) return undefined
    this.need = 0
    return 'truncated UTF-8 sequence at the end'
  }
}

/** Why a decoded code point may not stand in a topic, or undefined. */
export function codePointProblem(cp: number): string | undefined {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return controlProblem(cp)
  if (cp >= 0xd800 && cp <= 0xdfff) return `UTF-16 surrogate U+${cpHex(cp)}`
  if (cp > 0x10ffff) return `code point above U+10FFFF`
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return `noncharacter U+${cpHex(cp)}`
  return undefined
}

/** Why a UTF-8 byte string may not be a topic (or client id), or undefined. */
export function utf8BytesProblem(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  const checker = new Utf8TopicChecker()
  for (let i = start; i < end; i++) {
    const problem = checker.feed(bytes[i] as number)
    if (problem !== undefined) return problem
  }
  return checker.end()
}

/**
 * Why a JavaScript string may not be sent as a topic (or client id, user property), or undefined: the
 * same rules on a decoded string, where ill-formed UTF-8 can only show up as a lone surrogate.
 */
export function textProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i)
    if (cp >= 0x20 && cp < 0x7f) continue // the common case, first
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const low = s.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
        i++
      }
    }
    const problem = codePointProblem(cp)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** The most UTF-8 bytes a topic can have: its length is a u16 [MQTT-1.5.3]. */
export const MAX_TOPIC_BYTES = 65535

/**
 * Why `topic` cannot be published to an MQTT broker as a topic name, or undefined: empty, a wildcard
 * [MQTT-3.3.2-2], longer than 65,535 UTF-8 bytes, or a character from the rules above.
 */
export function mqttTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic'
  if (topic.includes('+') || topic.includes('#')) return 'wildcard "+" or "#" in a topic name'
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only long strings need counting.
  if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
    return `longer than ${MAX_TOPIC_BYTES} bytes`
  }
  return textProblem(topic)
}

/** Kafka topic names: 1-249 of [a-zA-Z0-9._-], and not "." or ".." (Kafka's Topic.validate). */
const KAFKA_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

export function kafkaTopicProblem(topic: string): string | undefined {
  if (!KAFKA_TOPIC.test(topic)) {
    return topic.length === 0 || topic.length > 249
      ? 'a Kafka topic has 1 to 249 characters'
      : 'a Kafka topic may only contain letters, digits, ".", "_" and "-"'
  }
  if (topic === '.' || topic === '..') return 'a Kafka topic cannot be "." or ".."'
  return undefined
}

function controlProblem(cp: number): string {
  return cp === 0 ? 'NUL (U+0000)' : `control character U+${cpHex(cp)}`
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}

function cpHex(cp: number): string {
  return cp.toString(16).toUpperCase().padStart(4, '0')
}
