// The function a device adapter hands its readings to. An adapter gets this, never the broker
// (DESIGN.md); the gateway builds it from its ingest seam, so a reading is taken when the outbox has
// committed it, exactly as an MQTT publish is.
import type { DropReason } from './errors.js'

export interface DeviceReading {
  topic: string
  payload: Buffer
  qos: 0 | 1
  /** The device name (the record's origin). */
  origin: string
}

/** taken: committed to the outbox (stored) or matched no route and went to local subscribers only. */
export type PublishOutcome = { taken: true; stored: boolean } | { taken: false; reason: DropReason }

/** Calls `done` exactly once. A callback, not a promise: it runs for every frame a device sends. */
export type DevicePublish = (reading: DeviceReading, done: (outcome: PublishOutcome) => void) => void
