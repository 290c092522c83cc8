// modbus-rtu on the wire: CRC-16/MODBUS against published check values, read requests as the spec's
// examples, responses classified (good, bad CRC, exception, wrong unit or function, wrong length,
// incomplete), register blocks decoded in every format and word order, and the requests of a poll.
import { describe, expect, test } from 'vitest'
import { crcOk, modbusCrc, withCrc } from '../../../devices/serial/modbus-crc.js'
import { decodeRegister, type ModbusRegister, planReads } from '../../../devices/serial/modbus-registers.js'
import {
  classifyIncomplete,
  decodeReadResponse,
  encodeReadRequest,
  type ReadRequest,
} from '../../../devices/serial/modbus-rtu.js'
import { crc16Bitwise } from '../../helpers/modbus-slave.js'
import { prng } from '../../helpers/prng.js'

const hex = (s: string) => Buffer.from(s.replaceAll(' ', ''), 'hex')

describe('CRC-16/MODBUS', () => {
  test('the check value of "123456789" is 0x4B37', () => {
    expect(modbusCrc(Buffer.from('123456789'))).toBe(0x4b37)
  })

  test("the spec's example frames: CRC low byte first", () => {
    // Modbus over Serial Line V1.02 §6.2.2 / Application Protocol §6.3 examples.
    expect(withCrc(hex('11 03 00 6B 00 03'))).toEqual(hex('11 03 00 6B 00 03 76 87'))
    expect(withCrc(hex('01 03 00 00 00 0A'))).toEqual(hex('01 03 00 00 00 0A C5 CD'))
    expect(crcOk(hex('01 03 00 00 00 0A C5 CD'))).toBe(true)
    expect(crcOk(hex('01 03 00 00 00 0A CD C5'))).toBe(false)
  })

  test('the table-driven CRC equals a bit-by-bit one on random frames', () => {
    const random = prng(0x0dbc)
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 255) }, () => Math.floor(random() * 256)),
      )
      expect(modbusCrc(bytes)).toBe(crc16Bitwise(bytes))
    }
  })
})

describe('read requests and responses', () => {
  const holding: ReadRequest = { unit: 0x11, fn: 3, address: 0x6b, quantity: 3 }

  test('a read request is unit, function, address, quantity and CRC', () => {
    expect(encodeReadRequest(holding)).toEqual(hex('11 03 00 6B 00 03 76 87'))
    expect(encodeReadRequest({ unit: 1, fn: 4, address: 0xfffe, quantity: 2 }).subarray(0, 6)).toEqual(
      hex('01 04 FF FE 00 02'),
    )
  })

  const response = withCrc(hex('11 03 06 AE 41 56 52 43 40'))

  test('a good response yields its register bytes, whatever the chunking; undefined until it is whole', () => {
    for (let cut = 0; cut < response.length; cut++) {
      expect(decodeReadResponse(holding, response.subarray(0, cut))).toBeUndefined()
    }
    expect(decodeReadResponse(holding, response)).toEqual({ ok: true, data: hex('AE 41 56 52 43 40') })
    // Bytes after the frame (a late echo) do not matter.
    expect(decodeReadResponse(holding, Buffer.concat([response, hex('00 00')]))).toMatchObject({ ok: true })
  })

  test('a flipped bit anywhere is a CRC error, even in the unit or the byte count', () => {
    for (let i = 0; i < response.length; i++) {
      const bad = Buffer.from(response)
      bad[i] = (bad[i] as number) ^ 0x01
      const r = decodeReadResponse(holding, bad)
      // A flip in the function byte that makes it 0x83 reads as an exception frame: also a CRC error.
      expect(r, `byte ${i}`).toMatchObject({ ok: false, reason: 'bad_crc' })
    }
  })

  test('an exception response carries its code', () => {
    expect(decodeReadResponse(holding, withCrc(hex('11 83 02')))).toMatchObject({
      ok: false,
      reason: 'exception',
      exceptionCode: 2,
      detail: expect.stringMatching(/illegal data address/),
    })
  })

  test('a whole, CRC-correct frame from another unit or for another function is named so', () => {
    expect(decodeReadResponse(holding, withCrc(hex('12 03 06 AE 41 56 52 43 40')))).toMatchObject({
      reason: 'wrong_unit',
    })
    expect(decodeReadResponse(holding, withCrc(hex('11 04 06 AE 41 56 52 43 40')))).toMatchObject({
      reason: 'wrong_function',
    })
    expect(decodeReadResponse(holding, withCrc(hex('12 83 02')))).toMatchObject({ reason: 'wrong_unit' })
  })

  test('at the timeout: nothing is a timeout; a short frame is named by what is wrong with it', () => {
    expect(classifyIncomplete(holding, Buffer.alloc(0))).toMatchObject({
      reason: 'timeout',
      detail: 'no response',
    })
    expect(classifyIncomplete(holding, response.subarray(0, 6))).toMatchObject({ reason: 'timeout' })
    expect(classifyIncomplete(holding, withCrc(hex('11 03 02 00 01')))).toMatchObject({
      reason: 'bad_length',
    })
    expect(classifyIncomplete(holding, hex('07 03 06'))).toMatchObject({ reason: 'wrong_unit' })
    expect(classifyIncomplete(holding, withCrc(hex('11 84 02')))).toMatchObject({ reason: 'wrong_function' })
  })
})

const reg = (r: Partial<ModbusRegister> & Pick<ModbusRegister, 'format'>): ModbusRegister => ({
  name: 'x',
  type: 'holding',
  address: 0,
  count: 1,
  wordOrder: 'high-first',
  ...r,
})

describe('register decoding', () => {
  test('16-bit formats: unsigned and two’s complement', () => {
    expect(decodeRegister(reg({ format: 'uint16' }), hex('FF 38'))).toBe(65336)
    expect(decodeRegister(reg({ format: 'int16' }), hex('FF 38'))).toBe(-200)
    expect(decodeRegister(reg({ format: 'int16' }), hex('7F FF'))).toBe(32767)
  })

  test('32-bit formats in both word orders', () => {
    expect(decodeRegister(reg({ format: 'uint32' }), hex('00 01 00 02'))).toBe(65538)
    expect(decodeRegister(reg({ format: 'uint32', wordOrder: 'low-first' }), hex('00 02 00 01'))).toBe(65538)
    expect(decodeRegister(reg({ format: 'int32' }), hex('FF FF FB 50'))).toBe(-1200)
    expect(decodeRegister(reg({ format: 'int32', wordOrder: 'low-first' }), hex('FB 50 FF FF'))).toBe(-1200)
    expect(decodeRegister(reg({ format: 'uint32' }), hex('FF FF FF FF'))).toBe(4294967295)
  })

  test('float32: the shortest decimal of the float (230.1, not 230.10000610351562); NaN and infinity are null', () => {
    expect(decodeRegister(reg({ format: 'float32' }), hex('43 66 19 9A'))).toBe(230.1)
    expect(decodeRegister(reg({ format: 'float32', wordOrder: 'low-first' }), hex('19 9A 43 66'))).toBe(230.1)
    expect(decodeRegister(reg({ format: 'float32' }), hex('C1 48 00 00'))).toBe(-12.5)
    expect(decodeRegister(reg({ format: 'float32' }), hex('7F C0 00 00'))).toBeNull()
    expect(decodeRegister(reg({ format: 'float32' }), hex('7F 80 00 00'))).toBeNull()
    const random = prng(0xf10a7)
    for (let i = 0; i < 500; i++) {
      const b = Buffer.alloc(4)
      b.writeFloatBE((random() - 0.5) * 10 ** Math.floor(random() * 12 - 4))
      const v = decodeRegister(reg({ format: 'float32' }), b) as number
      expect(Math.fround(v), b.toString('hex')).toBe(b.readFloatBE(0)) // the same float, shorter
    }
  })

  test('scale multiplies without binary noise; count > 1 gives an array', () => {
    expect(decodeRegister(reg({ format: 'uint16', scale: 0.1 }), hex('09 01'))).toBe(230.5)
    expect(decodeRegister(reg({ format: 'int16', scale: 0.01 }), hex('FF 38'))).toBe(-2)
    expect(decodeRegister(reg({ format: 'int32', scale: 0.001 }), hex('00 01 E2 40'))).toBe(123.456)
    expect(decodeRegister(reg({ format: 'uint16', count: 3 }), hex('00 01 00 02 00 03'))).toEqual([1, 2, 3])
    expect(
      decodeRegister(reg({ format: 'float32', count: 2, scale: 2 }), hex('3F C0 00 00 7F C0 00 00')),
    ).toEqual([3, null])
  })

  test('too few bytes for the block is a RangeError (a bug upstream of decoding, not line noise)', () => {
    expect(() => decodeRegister(reg({ format: 'uint32' }), hex('00 01'))).toThrow(RangeError)
  })
})

describe('the requests of a poll', () => {
  test('adjacent blocks of one type share a request; a gap, another type or 125 registers start a new one', () => {
    const plan = planReads([
      reg({ name: 'v', type: 'input', address: 0, format: 'float32', count: 3 }), // 0..5
      reg({ name: 'i', type: 'input', address: 6, format: 'float32' }), // 6..7: joins
      reg({ name: 'f', type: 'input', address: 9, format: 'uint16' }), // gap at 8
      reg({ name: 'p', type: 'holding', address: 10, format: 'int32' }), // another type
      reg({ name: 'big', type: 'holding', address: 12, format: 'uint16', count: 124 }), // 2 + 124 > 125
    ])
    expect(
      plan.map((r) => [r.fn, r.address, r.quantity, r.blocks.map((b) => [b.register.name, b.offset])]),
    ).toEqual([
      [
        4,
        0,
        8,
        [
          ['v', 0],
          ['i', 6],
        ],
      ],
      [4, 9, 1, [['f', 0]]],
      [3, 10, 2, [['p', 0]]],
      [3, 12, 124, [['big', 0]]],
    ])
  })
})
