// The size of a PUBLISH packet as mqtt.js writes it, so that a message over the upstream's Maximum
// Packet Size is never sent: "The Client MUST NOT send packets exceeding Maximum Packet Size to the
// Server" [MQTT-3.2.2-15]; the server announces it in its CONNACK (MQTT 5 §3.2.2.3.6) and closes the
// connection on a bigger packet (mosquitto: DISCONNECT 0x95). Such a message is dead-lettered
// ("too-large") instead.
//
// PUBLISH (MQTT 5 §3.3; 3.1.1 has no properties):
//   fixed header      1 byte + Remaining Length (variable byte integer, 1–4 bytes)
//   topic             2-byte length + UTF-8
//   packet id         2 bytes (QoS 1, 2)
//   properties        Property Length (variable byte integer) + properties; a user property is
//                     0x26, then key and value, each a 2-byte length + UTF-8
//   payload           the rest

/** Bytes of a PUBLISH with these parts (user properties: MQTT 5 only, undefined for 3.1.1). */
export function publishPacketBytes(
  topicBytes: number,
  payloadBytes: number,
  qos: 0 | 1 | 2,
  userProperties: Readonly<Record<string, string>> | undefined,
): number {
  let remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes
  if (userProperties !== undefined) {
    let props = 0
    for (const [k, v] of Object.entries(userProperties)) {
      props += 1 + 2 + Buffer.byteLength(k) + 2 + Buffer.byteLength(v)
    }
    remaining += varIntBytes(props) + props
  }
  return 1 + varIntBytes(remaining) + remaining
}

function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}
