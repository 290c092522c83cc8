// The one way a message enters the outbox, for the broker and for device adapters alike: route it,
// then append it. Resolves when the record is committed at the configured durability.
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

/** Returns the commit promise (resolving to the record's sequence number), or undefined when the message stays local. */
export type Ingest = (msg: IngestMessage) => Promise<number> | undefined

export function createIngest(router: Router, outbox: Outbox, now: () => number = Date.now): Ingest {
  return (msg) => {
    const to = router.route(msg.topic, msg.origin)
    if (to === undefined) return undefined
    return outbox.append([
      {
        topic: msg.topic,
        payload: msg.payload,
        qos: msg.qos,
        retain: msg.retain,
        origin: msg.origin,
        ts: now(),
        to,
      },
    ])
  }
}
