// What a modbus-rtu device's `registers` mean on the wire: the read requests of one poll (adjacent blocks
// of one type share a request), and each block's values decoded from the registers' bytes.
//
// A register is 16 bits, big-endian on the wire (Modbus Application Protocol §4.2). A 32-bit value spans
// two registers; Modbus does not say which comes first, so `wordOrder` does: high-first (ABCD, the most
// common) or low-first (CDAB, "word-swapped").
import type { SerialDeviceConfig } from '../../config/schema.js'
import {
  MAX_READ_REGISTERS,
  READ_HOLDING_REGISTERS,
  READ_INPUT_REGISTERS,
  type ReadRequest,
} from './modbus-rtu.js'

export type ModbusConfig = NonNullable<SerialDeviceConfig['modbus']>
export type ModbusRegister = ModbusConfig['registers'][number]
export type RegisterValue = number | null | Array<number | null>

/** One read request of a poll (for every unit) and the blocks it carries. */
export interface PlannedRead {
  fn: ReadRequest['fn']
  address: number
  quantity: number
  blocks: Array<{ register: ModbusRegister; offset: number }>
}

export function registerWidth(format: ModbusRegister['format']): 1 | 2 {
  return format === 'uint16' || format === 'int16' ? 1 : 2
}

/** Registers a block spans. */
export function registerSpan(r: ModbusRegister): number {
  return registerWidth(r.format) * r.count
}

/**
 * The requests of one poll, in config order. A block that starts where the one before it ends (same
 * type) joins its request while the request stays within 125 registers; a gap is never read across — a
 * slave may answer an address it does not have with exception 2.
 */
export function planReads(registers: readonly ModbusRegister[]): PlannedRead[] {
  const reads: PlannedRead[] = []
  for (const register of registers) {
    const fn = register.type === 'holding' ? READ_HOLDING_REGISTERS : READ_INPUT_REGISTERS
    const span = registerSpan(register)
    const last = reads.at(-1)
    if (
      last !== undefined &&
      last.fn === fn &&
      last.address + last.quantity === register.address &&
      last.quantity + span <= MAX_READ_REGISTERS
    ) {
      last.blocks.push({ register, offset: last.quantity })
      last.quantity += span
    } else {
      reads.push({ fn, address: register.address, quantity: span, blocks: [{ register, offset: 0 }] })
    }
  }
  return reads
}

/** A block's value from its registers' bytes: one number, or an array when `count` > 1. */
export function decodeRegister(register: ModbusRegister, data: Buffer): RegisterValue {
  const bytesPer = 2 * registerWidth(register.format)
  if (data.length < bytesPer * register.count) {
    throw new RangeError(`${register.name}: ${data.length} bytes for ${register.count} × ${register.format}`)
  }
  const values: Array<number | null> = []
  for (let i = 0; i < register.count; i++) {
    const raw = data.subarray(i * bytesPer, (i + 1) * bytesPer)
    values.push(scaled(decodeOne(register, raw), register.scale))
  }
  return register.count === 1 ? (values[0] as number | null) : values
}

function decodeOne(register: ModbusRegister, raw: Buffer): number {
  const bytes =
    raw.length === 4 && register.wordOrder === 'low-first'
      ? Buffer.concat([raw.subarray(2, 4), raw.subarray(0, 2)])
      : raw
  switch (register.format) {
    case 'uint16':
      return bytes.readUInt16BE(0)
    case 'int16':
      return bytes.readInt16BE(0)
    case 'uint32':
      return bytes.readUInt32BE(0)
    case 'int32':
      return bytes.readInt32BE(0)
    case 'float32':
      return shortestFloat32(bytes.readFloatBE(0))
  }
}

/** NaN and ±Infinity (a float32 sensor's "no value") become null: JSON has no such numbers. */
function scaled(value: number, scale: number | undefined): number | null {
  if (!Number.isFinite(value)) return null
  if (scale === undefined || scale === 1) return value
  // 2305 × 0.1 is 230.50000000000003 in binary floating point; 15 significant digits drop the noise.
  return Number((value * scale).toPrecision(15))
}

/** The shortest decimal that is the same float32: 230.1, not 230.10000610351562. */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits))
    if (Math.fround(candidate) === value) return candidate
  }
  return Number(value.toPrecision(9))
}
