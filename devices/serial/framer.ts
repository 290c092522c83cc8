// A framing turns the bytes of a serial line into frames (the payloads to publish) and garbage (counted,
// skipped). One file per framing; this one picks it from the config. modbus-rtu is the one that talks
// first: it writes requests while the port is open (attach/detach) and frames the answers.
import type { SerialDeviceConfig } from '../../config/schema.js'
import type { PollStatus } from '../device-status.js'
import type { GarbageReason } from '../errors.js'
import { cobsFramer } from './cobs-framing.js'
import { jsonLinesFramer } from './json-lines-framing.js'
import { linesFramer } from './lines-framing.js'
import { ModbusPoller, type ModbusPollerOptions } from './modbus-poller.js'
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
  /** A framing that talks first (modbus-rtu): the port is open, start writing requests to it. */
  attach?(port: PortWriter): void
  /** The port is going away: stop writing; resolves when no request is in flight. */
  detach?(): Promise<void>
  pollStatus?(): PollStatus
}

/** The part of an open port a framing that talks first writes to. */
export interface PortWriter {
  write(data: Buffer, callback: (err: Error | null | undefined) => void): unknown
}

export type FramingConfig = Pick<SerialDeviceConfig, 'framing' | 'delimiter' | 'maxFrameBytes'>

/** What a framing that polls (modbus-rtu) needs besides the sink. */
export type PollContext = Omit<ModbusPollerOptions, 'sink'>

export function createFramer(config: FramingConfig, sink: FrameSink, poll?: PollContext): Framer {
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
    case 'modbus-rtu':
      if (poll === undefined) throw new Error('modbus-rtu polls: createFramer needs its PollContext')
      return new ModbusPoller({ ...poll, sink })
  }
}
