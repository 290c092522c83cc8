// Modbus RTU requests and responses for reading registers (Modbus Application Protocol V1.1b3 §6.3,
// §6.4, §7; Modbus over Serial Line V1.02 §2.5.1). Only functions 0x03 and 0x04: a poller reads.
//
//   request   = unit:u8 function:u8 address:u16be quantity:u16be crc:u16le           ; 8 bytes
//   response  = unit:u8 function:u8 byteCount:u8 (byteCount)OCTET crc:u16le          ; byteCount = 2 × quantity
//   exception = unit:u8 (function | 0x80):u8 exceptionCode:u8 crc:u16le              ; 5 bytes
//
// unit 1..247 (0 is broadcast, which is never answered); quantity 1..125 registers.
import type { PollErrorReason } from '../errors.js'
import { crcOk, withCrc } from './modbus-crc.js'

export const READ_HOLDING_REGISTERS = 0x03
export const READ_INPUT_REGISTERS = 0x04
/** [Modbus Application Protocol §6.3] quantity of registers: 1 to 125 (0x7D). */
export const MAX_READ_REGISTERS = 125

export interface ReadRequest {
  unit: number
  fn: typeof READ_HOLDING_REGISTERS | typeof READ_INPUT_REGISTERS
  address: number
  quantity: number
}

export type ReadResult =
  | { ok: true; data: Buffer }
  | { ok: false; reason: PollErrorReason; detail: string; exceptionCode?: number }

export function encodeReadRequest(r: ReadRequest): Buffer {
  const pdu = Buffer.alloc(6)
  pdu.writeUInt8(r.unit, 0)
  pdu.writeUInt8(r.fn, 1)
  pdu.writeUInt16BE(r.address, 2)
  pdu.writeUInt16BE(r.quantity, 4)
  return withCrc(pdu)
}

/** [Modbus Application Protocol §7] the exception codes a slave answers with. */
const EXCEPTIONS: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
}

/**
 * The response to `r` in the bytes received since it was sent, or undefined while more may come. The CRC
 * is checked before anything else in the frame is believed: a flipped bit in the unit or the byte count
 * is a CRC error, not a wrong unit.
 */
export function decodeReadResponse(r: ReadRequest, rx: Buffer): ReadResult | undefined {
  if (rx.length < 5) return undefined
  if (rx[1] === (r.fn | 0x80)) {
    const frame = rx.subarray(0, 5)
    if (!crcOk(frame)) return fail('bad_crc', 'exception response with a bad CRC', frame)
    if (frame[0] !== r.unit) return fail('wrong_unit', `exception from unit ${frame[0]}`, frame)
    const code = frame[2] as number
    return {
      ok: false,
      reason: 'exception',
      detail: `exception ${code} (${EXCEPTIONS[code] ?? 'unknown'})`,
      exceptionCode: code,
    }
  }
  const length = 5 + 2 * r.quantity
  if (rx.length < length) return undefined
  const frame = rx.subarray(0, length)
  if (!crcOk(frame)) return fail('bad_crc', 'bad CRC', frame)
  return checkHeader(r, frame) ?? { ok: true, data: Buffer.from(frame.subarray(3, 3 + 2 * r.quantity)) }
}

/** Why the bytes received before the timeout are not the response (reason "timeout" when none came). */
export function classifyIncomplete(r: ReadRequest, rx: Buffer): ReadResult & { ok: false } {
  if (rx.length === 0) return { ok: false, reason: 'timeout', detail: 'no response' }
  // A whole frame of another length, CRC intact: the slave answered, but not what was asked.
  if (rx.length >= 5 && crcOk(rx)) {
    const header = checkHeader(r, rx)
    if (header) return header
  }
  if (rx[0] !== r.unit) return fail('wrong_unit', `bytes from unit ${rx[0]}, incomplete`, rx)
  if (rx[1] !== r.fn) return fail('wrong_function', `function ${rx[1]}, incomplete`, rx)
  return fail('timeout', `incomplete response (${rx.length} bytes)`, rx)
}

function checkHeader(r: ReadRequest, frame: Buffer): (ReadResult & { ok: false }) | undefined {
  if (frame[0] !== r.unit) return fail('wrong_unit', `response from unit ${frame[0]}`, frame)
  if (frame[1] !== r.fn) return fail('wrong_function', `function ${frame[1]} (asked ${r.fn})`, frame)
  if (frame[2] !== 2 * r.quantity || frame.length !== 5 + 2 * r.quantity) {
    return fail('bad_length', `byte count ${frame[2]} (asked ${r.quantity} registers)`, frame)
  }
  return undefined
}

function fail(reason: PollErrorReason, detail: string, frame: Buffer): ReadResult & { ok: false } {
  return { ok: false, reason, detail: `${detail}: ${frame.subarray(0, 16).toString('hex')}` }
}
