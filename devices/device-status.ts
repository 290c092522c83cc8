// Status snapshot of a serial device, as /api/status and /metrics show it.
import type { DeviceErrorCode, DropReason, GarbageReason, PollErrorReason, PollSkipReason } from './errors.js'

/** opening: first attempt pending; open: reading; closed: missing or lost, retrying; stopped. */
export type SerialState = 'opening' | 'open' | 'closed' | 'stopped'

export interface SerialDeviceStatus {
  name: string
  path: string
  framing: string
  state: SerialState
  /** When the state last changed (ms since the epoch). */
  sinceMs: number
  /** Why the port is closed (while closed). */
  error?: { code: DeviceErrorCode; message: string }
  /** Successful opens of the port. */
  opens: number
  bytesRead: number
  /** Frames decoded (before topic rendering and publishing). */
  frames: number
  /** Readings the gateway took (committed to the outbox, or local only). */
  readings: number
  /** Readings handed over and not yet committed or refused. */
  pending: number
  garbage: Partial<Record<GarbageReason, number>>
  dropped: Partial<Record<DropReason, number>>
  /** Framings that poll (modbus-rtu) only. */
  polls?: PollStatus
}

/** A polling device's requests and their outcomes. */
export interface PollStatus {
  /** Polls run (each reads every unit). */
  polls: number
  /** Requests sent, and those answered as asked. */
  requests: number
  responses: number
  /** Requests that got no usable response, by reason. */
  errors: Partial<Record<PollErrorReason, number>>
  /** Polls that were due and did not run, by reason. */
  skipped: Partial<Record<PollSkipReason, number>>
}
