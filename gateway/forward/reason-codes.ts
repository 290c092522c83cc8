// What an MQTT 5 upstream's refusal of one message means for the forwarder (issue #7, build item 3).
// mqtt.js hands a PUBACK or PUBREC reason code ≥ 0x80 (or a PUBCOMP's) to the publish callback as an
// ErrorWithReasonCode (`code`, see node_modules/mqtt/build/lib/handlers/ack.js); 0x00 and 0x10 ("no
// matching subscribers") are success.
//
//   permanent: this upstream will never take this message. It goes to the dead letters with `reason`
//              (the code in the detail), its slot is freed, the rest goes on.
//   transient: a condition of the upstream or of this connection, not of the message. The connection
//              is closed and, after the reconnect backoff, everything from the cursor is sent again —
//              the refused message first: order is kept and nothing is skipped.
//
// mqtt.js parses acknowledgements with mqtt-packet, which accepts only the PUBACK/PUBREC codes of MQTT 5.0
// §3.4.2.1 (0x00 0x10 0x80 0x83 0x87 0x90 0x91 0x97 0x99). A broker that sends another one (mosquitto
// answers a message over message_size_limit with 0x95) makes it a protocol error: the forwarder ends the
// connection and resends, and if that keeps happening with the same oldest message, poison detection
// dead-letters it ("upstream-disconnect"). The rows for such codes below say what they would mean.
import type { DeadLetterReason } from '../../store/dead-letters.js'

export interface ReasonCodeRow {
  code: number
  name: string
  class: 'permanent' | 'transient'
  /** The dead-letter reason (permanent codes). */
  reason?: DeadLetterReason
  /** A PUBACK/PUBREC code of MQTT 5.0 §3.4.2.1 (mqtt.js delivers it); false: seen from brokers, not parsed. */
  spec: boolean
}

/** Every code the forwarder knows. Any other code ≥ 0x80 is transient: never drop what we don't understand. */
export const REASON_CODES: readonly ReasonCodeRow[] = [
  // "The receiver does not accept the publish but either does not want to reveal the reason, or it does
  // not match one of the other values": about this publish, so retrying would stall the upstream.
  { code: 0x80, name: 'Unspecified error', class: 'permanent', reason: 'refused', spec: true },
  // "The PUBLISH is valid but the receiver is not willing to accept it."
  { code: 0x83, name: 'Implementation specific error', class: 'permanent', reason: 'refused', spec: true },
  { code: 0x87, name: 'Not authorized', class: 'permanent', reason: 'not-authorized', spec: true },
  { code: 0x90, name: 'Topic Name invalid', class: 'permanent', reason: 'topic-invalid', spec: true },
  // A packet identifier clash is the session's state, not the message: a new connection resends it.
  { code: 0x91, name: 'Packet Identifier in use', class: 'transient', spec: true },
  // A PUBCOMP code (QoS 2): the upstream lost the exchange's state; resend (at least once).
  { code: 0x92, name: 'Packet Identifier not found', class: 'transient', spec: true },
  // "An implementation or administrative imposed limit has been exceeded": wait, then retry.
  { code: 0x97, name: 'Quota exceeded', class: 'transient', spec: true },
  { code: 0x99, name: 'Payload format invalid', class: 'permanent', reason: 'payload-invalid', spec: true },
  { code: 0x88, name: 'Server unavailable', class: 'transient', spec: false },
  { code: 0x89, name: 'Server busy', class: 'transient', spec: false },
  { code: 0x8b, name: 'Server shutting down', class: 'transient', spec: false },
  { code: 0x95, name: 'Packet too large', class: 'permanent', reason: 'too-large', spec: false },
  { code: 0x96, name: 'Message rate too high', class: 'transient', spec: false },
]

const BY_CODE = new Map(REASON_CODES.map((r) => [r.code, r]))

export type Refusal =
  | { class: 'permanent'; reason: DeadLetterReason; code: number; text: string }
  | { class: 'transient'; code: number; text: string }

/** Classifies a reason code ≥ 0x80 from `packet` ("PUBACK", "PUBREC", "PUBCOMP"). */
export function classifyRefusal(code: number, packet: string): Refusal {
  const row = BY_CODE.get(code)
  const text = `${packet} ${hexCode(code)} ${row?.name ?? 'unknown reason code'}`
  if (row?.class === 'permanent' && row.reason) return { class: 'permanent', reason: row.reason, code, text }
  return { class: 'transient', code, text }
}

/** The reason code an mqtt.js publish callback error carries, if it is one (else: the connection ended). */
export function reasonCodeOf(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code
  return typeof code === 'number' && code >= 0x80 && code <= 0xff ? code : undefined
}

export const hexCode = (code: number): string => `0x${code.toString(16).padStart(2, '0')}`

/**
 * DISCONNECT reason codes (MQTT 5 §3.14.2.1) about the server or the connection, never about the message
 * in flight: a broker shutting down, a session taken over by a client with the same id, a quota. Such a
 * disconnect is no evidence for poison detection; any other (0x81 malformed, 0x82 protocol error, 0x87,
 * 0x90, 0x95, 0x99, 0x9A retain not supported…) or a connection closed without a word is.
 */
const DISCONNECT_NOT_ABOUT_THE_MESSAGE: ReadonlySet<number> = new Set([
  0x00, // Normal disconnection
  0x04, // Disconnect with Will Message
  0x89, // Server busy
  0x8b, // Server shutting down
  0x8d, // Keep Alive timeout
  0x8e, // Session taken over
  0x93, // Receive Maximum exceeded
  0x96, // Message rate too high
  0x97, // Quota exceeded
  0x98, // Administrative action
  0x9c, // Use another server
  0x9d, // Server moved
  0x9f, // Connection rate exceeded
  0xa0, // Maximum connect time
])

/** Whether a DISCONNECT with `code` may be about the message in flight (poison detection counts it). */
export function disconnectMayBeAboutMessage(code: number): boolean {
  return !DISCONNECT_NOT_ABOUT_THE_MESSAGE.has(code)
}
