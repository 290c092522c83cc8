// A framing turns the bytes of a serial line into frames (the payloads to publish) and garbage (counted,
// skipped). One file per framing; this one picks it from the config.
import type { SerialDeviceConfig } from '../../config/schema.js'
import type { GarbageReason } from '../errors.js'
import { cobsFramer } from './cobs-framing.js'
import { jsonLinesFramer } from './json-lines-framing.js'
import { linesFramer } from './lines-framing.js'
import { nmeaFramer } from './nmea-framing.js'
import { slipFramer } from './slip-framing.js'

export interface Frame {
  payload: Buffer
  /** The frame as JSON, for framings that publish JSON (topic fields: {json.id}). */
  json?: unknown
}

export interface FrameSink {
  frame(frame: Frame): void
  /** `detail` is for the debug log: what was wrong, with a short sample. */
  garbage(reason: GarbageReason, detail: string): void
}

export interface Framer {
  push(chunk: Buffer): void
  /** Forgets a partial frame: after a reopen, what follows is not its continuation. */
  reset(): void
}

export type FramingConfig = Pick<SerialDeviceConfig, 'framing' | 'delimiter' | 'maxFrameBytes'>

export function createFramer(config: FramingConfig, sink: FrameSink): Framer {
  switch (config.framing) {
    case 'lines':
      return linesFramer(config, sink)
    case 'json-lines':
      return jsonLinesFramer(config, sink)
    case 'nmea':
      return nmeaFramer(config, sink)
    case 'cobs':
      return cobsFramer(config, sink)
    case 'slip':
      return slipFramer(config, sink)
  }
}
