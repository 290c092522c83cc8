// How a simulated serial device puts a reading on the wire, per framing: the inverse of the gateway's
// framings (devices/serial/*-framing.ts), so tests round-trip through both.
import { encodeNmeaPacket, type GGAPacket, type VTGPacket } from 'nmea-simple'
import type { SerialDeviceConfig } from '../../config/schema.js'
import { withChecksum } from '../serial/nmea-sentence.js'
import { SLIP } from '../serial/slip-framing.js'
import type { SimReading } from './profiles.js'

/** The framings a device sends unasked (modbus-rtu answers a master's requests: not simulated here). */
export type Framing = Exclude<SerialDeviceConfig['framing'], 'modbus-rtu'>

/** The bytes a device sends for one reading (the line end or frame delimiter included). */
export function encodeFrame(framing: Framing, reading: SimReading): Buffer {
  switch (framing) {
    case 'lines':
      return Buffer.from(`${toLine(reading)}\r\n`)
    case 'json-lines':
      return Buffer.from(`${JSON.stringify(reading)}\n`)
    case 'nmea':
      return Buffer.from(toNmea(reading).join(''))
    case 'cobs':
      return Buffer.concat([cobsEncode(Buffer.from(JSON.stringify(reading))), Buffer.from([0])])
    case 'slip':
      return Buffer.concat([Buffer.from([SLIP.END]), slipEncode(Buffer.from(JSON.stringify(reading)))])
  }
}

/** "key=value key=value", the kind of line a meter or a microcontroller prints. */
function toLine(reading: SimReading): string {
  return Object.entries(reading)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v.replace(/\s/g, '_') : String(v)}`)
    .join(' ')
}

/** GGA (position) and VTG (course, speed) sentences; a reading without a position gets only a $PSIM one. */
export function toNmea(reading: SimReading): string[] {
  const time = new Date(reading.ts)
  if (typeof reading.lat !== 'number' || typeof reading.lon !== 'number') {
    return [`${withChecksum(`$PSIM,${reading.device},${reading.seq}`)}\r\n`]
  }
  const gga = {
    sentenceId: 'GGA',
    time,
    latitude: reading.lat,
    longitude: reading.lon,
    fixType: 'fix',
    satellitesInView: typeof reading.satellites === 'number' ? reading.satellites : 8,
    horizontalDilution: 0.9,
    altitudeMeters: typeof reading.altitudeM === 'number' ? reading.altitudeM : 0,
    geoidalSeperation: 47,
  } as GGAPacket
  const vtg = {
    sentenceId: 'VTG',
    trackTrue: typeof reading.headingDeg === 'number' ? reading.headingDeg : 0,
    trackMagnetic: 0,
    speedKnots: typeof reading.speedKmh === 'number' ? reading.speedKmh / 1.852 : 0,
    speedKmph: typeof reading.speedKmh === 'number' ? reading.speedKmh : 0,
    faaMode: 'A',
  } as VTGPacket
  return [`${encodeNmeaPacket(gga, 'GP')}\r\n`, `${encodeNmeaPacket(vtg, 'GP')}\r\n`]
}

/** COBS (see devices/serial/cobs-framing.ts for the grammar), without the 0x00 delimiter. */
export function cobsEncode(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length + Math.ceil(data.length / 254) + 1)
  let codeAt = 0
  let o = 1
  let code = 1
  for (const b of data) {
    if (b === 0) {
      out[codeAt] = code
      codeAt = o++
      code = 1
      continue
    }
    out[o++] = b
    code++
    if (code === 0xff) {
      out[codeAt] = code
      codeAt = o++
      code = 1
    }
  }
  out[codeAt] = code
  return out.subarray(0, o)
}

/** SLIP (RFC 1055) with the closing END. */
export function slipEncode(data: Buffer): Buffer {
  const out: number[] = []
  for (const b of data) {
    if (b === SLIP.END) out.push(SLIP.ESC, SLIP.ESC_END)
    else if (b === SLIP.ESC) out.push(SLIP.ESC, SLIP.ESC_ESC)
    else out.push(b)
  }
  out.push(SLIP.END)
  return Buffer.from(out)
}
