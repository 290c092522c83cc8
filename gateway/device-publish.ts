// The publish function device adapters get (devices/device-publish.ts), built from the ingest seam: a
// reading is routed and appended like an MQTT publish, taken once committed, and then — like a publish
// from an MQTT device — delivered to local subscribers too. One that matches no route stays local.
import type { DevicePublish } from '../devices/device-publish.js'
import type { DropReason } from '../devices/errors.js'
import type { OutboxError } from '../store/errors.js'
import type { LocalMessage } from './broker/broker.js'
import type { Ingest } from './ingest.js'
import type { Logger } from './logger.js'

export function createDevicePublish(
  ingest: Ingest,
  publishLocal: (msg: LocalMessage) => Promise<void>,
  logger: Logger,
): DevicePublish {
  const local = (msg: LocalMessage, origin: string) =>
    publishLocal(msg).catch((err: unknown) =>
      // Only while the broker stops; the reading itself is in the outbox (or was local only).
      logger.debug({ device: origin, err: (err as Error).message }, 'reading not delivered locally'),
    )
  return (reading, done) => {
    const msg = { topic: reading.topic, payload: reading.payload, qos: reading.qos, retain: false }
    const routed = ingest({ ...msg, origin: reading.origin }, (err) => {
      if (err) {
        done({ taken: false, reason: dropReason(err) })
        return
      }
      void local(msg, reading.origin)
      done({ taken: true, stored: true })
    })
    if (!routed) {
      void local(msg, reading.origin)
      done({ taken: true, stored: false })
    }
  }
}

function dropReason(err: OutboxError): DropReason {
  switch (err.code) {
    case 'OUTPOST_OUTBOX_FULL':
      return 'outbox_full'
    case 'OUTPOST_OUTBOX_NO_SPACE':
      return 'no_space'
    case 'OUTPOST_OUTBOX_RECORD_TOO_LARGE':
      return 'too_large'
    case 'OUTPOST_OUTBOX_CLOSED':
      return 'closed'
    default:
      return 'write_failed'
  }
}
