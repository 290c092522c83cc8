// Checks a CONNECT's strings on its raw bytes, before aedes decodes them with Buffer.toString (which
// turns ill-formed UTF-8 into U+FFFD without a word). The client id becomes the `origin` of every record
// and an MQTT 5 user property upstream; the will topic becomes a topic upstream when the client goes:
// both must pass config/topic-chars.ts.
//
// CONNECT, MQTT 3.1 / 3.1.1 [MQTT-3.1]:
//   variable header: protocol name (u16 length + bytes), level (u8; the high bit marks a bridge, which
//     mqtt-packet and aedes accept as the same level), flags (u8), keep alive (u16)
//     flags: 0x80 user name, 0x40 password, 0x20 will retain, 0x18 will QoS, 0x04 will, 0x02 clean
//   payload: client id (u16 + bytes), [will topic (u16 + bytes), will message (u16 + bytes)],
//     [user name (u16 + bytes)], [password (u16 + bytes)]
// Other levels (MQTT 5 adds properties) are left to aedes, which refuses them (CONNACK 1).
import { mqttTopicProblem, utf8BytesProblem } from '../../config/topic-chars.js'

export type ConnectVerdict =
  | { kind: 'ok' }
  | { kind: 'bad_client_id'; problem: string }
  | { kind: 'bad_will_topic'; problem: string }

const OK: ConnectVerdict = { kind: 'ok' }

/** `body` is the CONNECT after its fixed header. A short or inconsistent body is aedes's to refuse. */
export function inspectConnect(body: Buffer): ConnectVerdict {
  let pos = 0
  const string = (): [number, number] | undefined => {
    if (pos + 2 > body.length) return undefined
    const len = body.readUInt16BE(pos)
    const start = pos + 2
    if (start + len > body.length) return undefined
    pos = start + len
    return [start, start + len]
  }
  if (string() === undefined || pos + 4 > body.length) return OK // protocol name
  const level = (body[pos] as number) & 0x7f // 0x83/0x84: a bridge speaking 3.1/3.1.1 (found by fuzzing)
  const flags = body[pos + 1] as number
  pos += 4
  if (level !== 3 && level !== 4) return OK
  const clientId = string()
  if (clientId === undefined) return OK
  const idProblem = utf8BytesProblem(body, clientId[0], clientId[1])
  if (idProblem !== undefined) return { kind: 'bad_client_id', problem: idProblem }
  if ((flags & 0x04) === 0) return OK
  const willTopic = string()
  if (willTopic === undefined) return OK
  const problem =
    utf8BytesProblem(body, willTopic[0], willTopic[1]) ??
    mqttTopicProblem(body.toString('utf8', willTopic[0], willTopic[1]))
  return problem === undefined ? OK : { kind: 'bad_will_topic', problem }
}
