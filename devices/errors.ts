// Errors and counted outcomes of device adapters. Codes and reasons are closed sets; classify by code,
// never by message text.

export const DEVICE_ERROR_CODES = [
  /** The port's path does not exist (not plugged in, wrong by-id name). */
  'OUTPOST_DEVICE_NOT_FOUND',
  /** The path exists but this process may not read and write it (group dialout?). */
  'OUTPOST_DEVICE_PERMISSION',
  /** Opening or configuring the port failed (locked by another process, unsupported settings, …). */
  'OUTPOST_DEVICE_OPEN_FAILED',
  /** An open port failed: a read error (EIO), end of input, or the port closed under us. */
  'OUTPOST_DEVICE_DISCONNECTED',
  /** The path vanished or now names another device while the port was open (unplugged, replugged). */
  'OUTPOST_DEVICE_PATH_CHANGED',
] as const
export type DeviceErrorCode = (typeof DEVICE_ERROR_CODES)[number]

export class DeviceError extends Error {
  override readonly name = 'DeviceError'
  readonly code: DeviceErrorCode
  /** Every port problem is retried (with backoff): a device can come back at any time. */
  readonly canRetry = true

  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/** Input that is not a reading: counted per device and reason, logged at debug, then skipped. */
export const GARBAGE_REASONS = [
  /** A line or frame longer than maxFrameBytes (discarded up to its end). */
  'overlong',
  /** A text line with control bytes or invalid UTF-8 (line noise, wrong baud rate). */
  'binary',
  /** json-lines: the line is not JSON. */
  'invalid_json',
  /** nmea: no "$" or "!" sentence, or not the sentence grammar. */
  'not_nmea',
  /** nmea: checksum missing or wrong. */
  'bad_checksum',
  /** nmea: a known sentence whose fields do not decode. */
  'nmea_fields',
  /** cobs, slip: a frame that does not decode. */
  'bad_frame',
  /** The topic template's {json.…} field is missing or unfit for a topic. */
  'topic_field',
] as const
export type GarbageReason = (typeof GARBAGE_REASONS)[number]

/**
 * Why a reading was not taken. A serial line has no acknowledgement to withhold, so a refused reading
 * is dropped and counted (never retried from memory: a reading held in RAM is not a reading taken).
 */
export const DROP_REASONS = [
  /** The outbox is full (whenFull: reject) or the disk is below minFreeDiskBytes. */
  'outbox_full',
  /** The disk ran out of space during the write. */
  'no_space',
  /** The outbox write failed. */
  'write_failed',
  /** One reading larger than the whole outbox may hold. */
  'too_large',
  /** The outbox is closing (the gateway is stopping). */
  'closed',
] as const
export type DropReason = (typeof DROP_REASONS)[number]

/** modbus-rtu: why a request of a poll got no usable response (counted per device and reason). */
export const POLL_ERROR_REASONS = [
  /** No response, or an incomplete one, within timeoutMs. */
  'timeout',
  /** The response's CRC is wrong (line noise, a wrong baud rate or parity). */
  'bad_crc',
  /** The slave answered with an exception (function | 0x80): an illegal address, busy, … */
  'exception',
  /** A response from another unit (two slaves with one address, or a late answer). */
  'wrong_unit',
  /** A response for another function code. */
  'wrong_function',
  /** A response whose byte count is not what was asked for. */
  'bad_length',
  /** The request could not be written to the port. */
  'write_failed',
] as const
export type PollErrorReason = (typeof POLL_ERROR_REASONS)[number]

/** modbus-rtu: why a poll that was due did not run. */
export const POLL_SKIP_REASONS = [
  /** The poll before it was still running (slow or silent slaves, too short an interval). */
  'overrun',
  /** Readings of earlier polls are not yet committed (the outbox lags). */
  'backlog',
] as const
export type PollSkipReason = (typeof POLL_SKIP_REASONS)[number]
