// What the forwarder may put on the wire as an MQTT string: a record's topic as rendered for an upstream
// (`d.topic ?? r.topic`), and the user property values it adds. A broker that disagrees does not refuse
// the one message, it closes the connection (mosquitto 2.0 does, on every character refused below), so a
// string that breaks these rules would stop the upstream: the forwarder dead-letters such a record
// ("bad-topic") instead of sending it. Strict on purpose: what the spec says a receiver MAY refuse, we
// never send. Pure functions; the broker's door and the router have rules of their own (issue #7,
// build item 1), to be unified.
//
// MQTT 5.0 §1.5.4 (3.1.1 §1.5.3) UTF-8 strings:
//   no U+D800–U+DFFF (so no lone surrogate: JavaScript would encode it as U+FFFD, altering the topic)
//                                                                       [MQTT-1.5.4-1]
//   no U+0000                                                           [MQTT-1.5.4-2]
//   U+0001–U+001F, U+007F–U+009F and noncharacters SHOULD NOT appear; a receiver MAY close the
//   connection on them (mosquitto does)                                 §1.5.4
//   at most 65,535 bytes (a two-byte length prefix)                     §1.5.4
// Topic names in PUBLISH (§4.7.3, §3.3.2.1):
//   at least one character                                              [MQTT-4.7.3-1]
//   no wildcard "+" or "#"                                              [MQTT-3.3.2-2]

const MAX_BYTES = 65_535
const PREVIEW = 200

/** Why `topic` cannot be sent upstream as a PUBLISH topic, or undefined if it can. */
export function upstreamTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic'
  const problem = scan(topic, true)
  return problem === undefined ? undefined : `topic ${quote(topic)}: ${problem}`
}

/** Why `s` is not a string the forwarder may send (a user property value), or undefined if it is. */
export function mqttStringProblem(s: string): string | undefined {
  return scan(s, false)
}

function scan(s: string, topic: boolean): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // Printable ASCII is nearly every character of nearly every topic: one comparison pair.
    if (c >= 0x20 && c < 0x7f) {
      if (topic && (c === 0x2b || c === 0x23)) return `wildcard "${s[i]}" at character ${i}`
      continue
    }
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
      return `${c === 0 ? 'NUL' : 'control character'} ${u(c)} at character ${i}`
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (!(d >= 0xdc00 && d <= 0xdfff)) return `lone surrogate ${u(c)} at character ${i}`
      const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
      if ((cp & 0xfffe) === 0xfffe) return `noncharacter ${u(cp)} at character ${i}`
      i++
      continue
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `lone surrogate ${u(c)} at character ${i}`
    if ((c >= 0xfdd0 && c <= 0xfdef) || c === 0xfffe || c === 0xffff) {
      return `noncharacter ${u(c)} at character ${i}`
    }
  }
  // Each UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair: 4 for 2): count only when it matters.
  if (s.length * 3 > MAX_BYTES) {
    const bytes = Buffer.byteLength(s)
    if (bytes > MAX_BYTES) return `${bytes} bytes of UTF-8 (at most 65,535)`
  }
  return undefined
}

const u = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`

/** The topic for a log line or a dead letter's detail: escaped (JSON), and cut short. */
function quote(topic: string): string {
  const cut = topic.length > PREVIEW ? `${topic.slice(0, PREVIEW)}…` : topic
  return JSON.stringify(cut)
}
