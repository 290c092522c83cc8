// The one way a message enters the outbox, for the broker and for device adapters alike: route it,
// then append it. `done` runs when the record is committed at the configured durability (or refused).
import type { OutboxError } from '../store/errors.js'
import type { Outbox } from '../store/outbox.js'
import type { Router } from './router.js'

export interface IngestMessage {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  /** Client id or device name. */
  origin: string
}

/**
 * Routes and appends a message. Returns false when it matches no route (it stays local; `done` is not
 * called); otherwise `done` is called once with null (committed) or the outbox's refusal. A callback,
 * not a promise: this runs for every message the gateway receives.
 */
export type Ingest = (msg: IngestMessage, done: (err: OutboxError | null) => void) => boolean

export function createIngest(router: Router, outbox: Outbox, now: () => number = Date.now): Ingest {
  return (msg, done) => {
    const to = router.route(msg.topic, msg.origin)
    if (to === undefined) return false
    outbox.appendOne(
      {
        topic: msg.topic,
        payload: msg.payload,
        qos: msg.qos,
        retain: msg.retain,
        origin: msg.origin,
        ts: now(),
        to,
      },
      (err) => done(err),
    )
    return true
  }
}
