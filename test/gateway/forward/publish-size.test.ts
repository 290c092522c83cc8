// The PUBLISH size the forwarder computes against a Maximum Packet Size equals what mqtt-packet (the
// encoder mqtt.js uses) actually writes, byte for byte.
import { generate } from 'mqtt-packet'
import { describe, expect, test } from 'vitest'
import { publishPacketBytes } from '../../../gateway/forward/publish-size.js'

describe('publishPacketBytes', () => {
  const identity = (origin?: string): Record<string, string> => ({
    'outpost-gateway': 'pi-kitchen',
    'outpost-seq': '123456789',
    'outpost-ts': '1700000000000',
    ...(origin === undefined ? {} : { 'outpost-origin': origin }),
  })
  test.each([
    ['tiny, QoS 0, 3.1.1', 'a', 0, 0 as const, undefined],
    ['QoS 1, 3.1.1', 'sensors/dev/telemetry', 10, 1 as const, undefined],
    ['QoS 1, MQTT 5 identity', 'sensors/dev/telemetry', 100, 1 as const, identity('dev-1')],
    ['QoS 2, MQTT 5, unicode', 'température/温度', 1000, 2 as const, identity('capteur-é')],
    ['remaining length of 2 bytes', 't', 200, 1 as const, identity()],
    ['remaining length of 3 bytes', 't', 20_000, 1 as const, identity()],
    ['remaining length of 4 bytes', 't', 2_100_000, 1 as const, identity()],
  ])('%s', (_what, topic, payloadBytes, qos, userProperties) => {
    const packet = generate(
      {
        cmd: 'publish',
        topic,
        payload: Buffer.alloc(payloadBytes, 0x61),
        qos,
        dup: false,
        retain: false,
        messageId: qos > 0 ? 1 : undefined,
        properties: userProperties === undefined ? undefined : { userProperties },
      },
      { protocolVersion: userProperties === undefined ? 4 : 5 },
    )
    expect(publishPacketBytes(Buffer.byteLength(topic), payloadBytes, qos, userProperties)).toBe(
      packet.length,
    )
  })
})
