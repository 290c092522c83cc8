// The one way a message enters the outbox, for the broker and for device adapters alike: route it,
// then append it. `done` runs when the record is committed at the configured durability (or refused).
// What is appended and not yet settled is counted in `pending` (broker.maxPendingBytes): the outbox
// queues appends in memory, so the broker reads that bound before taking in more (issue #7, item 4).
import type { OutboxError } from '../store/errors.js'
import type { Outbox } from '../store/outbox.js'
import { type PendingBytes, pendingSize } from './pending-bytes.js'
import { isRefusal, type Router, type TopicRefusal } from './router.js'

export interface IngestMessage {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  /** Client id or device name. */
  origin: string
}

/**
 * 'appended': `done` will be called once with null (committed) or the outbox's refusal. 'local': it
 * matches no route and stays local (`done` is not called). A TopicRefusal: its topic upstream would be
 * invalid under a route that refuses such messages (`done` is not called).
 */
export type IngestOutcome = 'appended' | 'local' | TopicRefusal

/** Routes and appends a message. A callback, not a promise: this runs for every message received. */
export type Ingest = (msg: IngestMessage, done: (err: OutboxError | null) => void) => IngestOutcome

export interface IngestOptions {
  pending: PendingBytes
  now?: () => number
}

export function createIngest(router: Router, outbox: Outbox, options: IngestOptions): Ingest {
  const { pending } = options
  const now = options.now ?? Date.now
  return (msg, done) => {
    const to = router.route(msg.topic, msg.origin)
    if (to === undefined) return 'local'
    if (isRefusal(to)) return to
    const size = pendingSize(msg)
    pending.add(size)
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
      (err) => {
        pending.sub(size)
        done(err)
      },
    )
    return 'appended'
  }
}
