// The status snapshot of an MQTT forwarder, as /api/status and /metrics see it.
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { UpstreamStatus } from './forwarder.js'
import type { ConnectionState } from './mqtt-connection.js'

/** The connection's state, or "stalled": no acknowledgement within ackTimeoutMs, not acknowledging since. */
export type ForwarderState = ConnectionState | 'stalled'

export interface ForwarderStatus extends UpstreamStatus {
  name: string
  type: 'mqtt'
  state: ForwarderState
  /** The connection's own state (while stalled, the forwarder keeps reconnecting and resending). */
  connection: ConnectionState
  url: string
  /** Last record this upstream is done with (the cursor). */
  position: number
  inflight: number
  window: number
  sent: number
  acked: number
  /** Records not routed to this upstream, passed over. */
  skipped: number
  connects: number
  disconnects: number
  /** Times the upstream became stalled. */
  stalls: number
  /** Readings sent without outpost-origin: their client id is not a legal MQTT string. */
  originOmitted: number
  /** Transient refusals (resent after a backoff), by reason code ("0x97"). */
  refusals: Record<string, number>
  /** Records dead-lettered for this upstream since the outbox was created, by reason. */
  deadLetters: Partial<Record<DeadLetterReason, number>>
  /** When the upstream stalled (ISO 8601), while it is stalled. */
  stalledSince: string | undefined
  /** Poison detection: a message is being sent alone, to see whether the upstream drops it. */
  isolating: boolean
  /** The oldest message in flight at the last connection losses, and how many in a row. */
  poisonSuspect: number | undefined
  poisonLosses: number
  lastError: string | undefined
  connectedSinceMs: number | undefined
}
