// Framings: lines, json-lines, nmea, cobs and slip turn bytes into frames and count garbage, whatever
// the chunking, and garbage never costs the good frames after it.
import { describe, expect, test } from 'vitest'
import type { GarbageReason } from '../../../devices/errors.js'
import { createFramer, type Frame, type FramingConfig } from '../../../devices/serial/framer.js'
import { withChecksum } from '../../../devices/serial/nmea-sentence.js'
import { cobsEncode, encodeFrame, slipEncode, toNmea } from '../../../devices/simulator/frame-encoders.js'
import { createSensor } from '../../../devices/simulator/profiles.js'
import { prng } from '../../helpers/prng.js'

function run(config: Partial<FramingConfig> & Pick<FramingConfig, 'framing'>, chunks: Buffer[]) {
  const frames: Frame[] = []
  const garbage: GarbageReason[] = []
  const framer = createFramer(
    { delimiter: '\n', maxFrameBytes: 1024, ...config },
    { frame: (f) => frames.push(f), garbage: (reason) => garbage.push(reason) },
  )
  for (const c of chunks) framer.push(c)
  return { frames, garbage, text: frames.map((f) => f.payload.toString()) }
}

/** The same bytes cut into random pieces (1..16 bytes). */
function chopped(bytes: Buffer, seed: number): Buffer[] {
  const random = prng(seed)
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(random() * 16)
    out.push(bytes.subarray(i, i + n))
    i += n
  }
  return out
}

describe('lines', () => {
  test('one frame per line; "\\r\\n" and "\\n" both end a line, empty lines are skipped', () => {
    const r = run({ framing: 'lines' }, [Buffer.from('a=1\r\nb=2\n\r\n\nc=3\n')])
    expect(r.text).toEqual(['a=1', 'b=2', 'c=3'])
    expect(r.garbage).toEqual([])
  })

  test('the same frames however the input is chunked, with a multi-byte delimiter straddling chunks', () => {
    const input = Buffer.from(Array.from({ length: 50 }, (_, i) => `reading ${i};;`).join(''))
    for (const seed of [1, 2, 3]) {
      const r = run({ framing: 'lines', delimiter: ';;' }, chopped(input, seed))
      expect(r.text, `seed ${seed}`).toEqual(Array.from({ length: 50 }, (_, i) => `reading ${i}`))
    }
  })

  test('binary noise is counted as "binary" and the lines after it arrive', () => {
    const noise = Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x80, 0x0a, 0x01, 0x02, 0xc3])
    const r = run({ framing: 'lines' }, [Buffer.from('ok 1\n'), noise, Buffer.from('\nok 2\nok 3\n')])
    expect(r.text).toEqual(['ok 1', 'ok 2', 'ok 3'])
    expect(r.garbage).toEqual(['binary', 'binary'])
  })

  test('a 200 kB line without a newline is counted once as "overlong"; the next line arrives; memory stays at the cap', () => {
    const frames: string[] = []
    const garbage: GarbageReason[] = []
    const framer = createFramer(
      { framing: 'lines', delimiter: '\n', maxFrameBytes: 4096 },
      { frame: (f) => frames.push(f.payload.toString()), garbage: (g) => garbage.push(g) },
    )
    framer.push(Buffer.from('before\n'))
    for (let i = 0; i < 50; i++) framer.push(Buffer.alloc(4096, 'x')) // 200 kB, no newline
    framer.push(Buffer.from('\nafter\n'))
    expect(frames).toEqual(['before', 'after'])
    expect(garbage).toEqual(['overlong'])
  })

  test('a line of exactly maxFrameBytes passes; one byte more is overlong', () => {
    const r = run({ framing: 'lines', maxFrameBytes: 8 }, [Buffer.from('12345678\n123456789\nz\n')])
    expect(r.text).toEqual(['12345678', 'z'])
    expect(r.garbage).toEqual(['overlong'])
  })
})

describe('json-lines', () => {
  test('each line is published verbatim and parsed for topic fields; invalid JSON is counted and skipped', () => {
    const r = run({ framing: 'json-lines' }, [
      Buffer.from('{"id":"a","t":1}\r\n{"id":"b",\n{"id":"c","t":3}\nnot json\n'),
    ])
    expect(r.text).toEqual(['{"id":"a","t":1}', '{"id":"c","t":3}'])
    expect(r.frames.map((f) => (f.json as { id: string }).id)).toEqual(['a', 'c'])
    expect(r.garbage).toEqual(['invalid_json', 'invalid_json'])
  })
})

describe('nmea', () => {
  const gga = withChecksum('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')

  test('a GGA sentence is verified and published as JSON with its decoded fields', () => {
    expect(gga).toBe('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47')
    const r = run({ framing: 'nmea' }, [Buffer.from(`${gga}\r\n`)])
    expect(r.garbage).toEqual([])
    const json = JSON.parse(r.text[0] as string)
    expect(json).toMatchObject({
      talkerId: 'GP',
      sentenceId: 'GGA',
      latitude: 48.1173,
      longitude: 11.516666666666667,
      fixType: 'fix',
      satellitesInView: 8,
      altitudeMeters: 545.4,
    })
    expect(json.chxOk).toBeUndefined()
  })

  test('bad and missing checksums, non-sentences and binary noise are counted by reason; good sentences around them arrive', () => {
    const bad = `${gga.slice(0, -2)}00`
    const r = run({ framing: 'nmea' }, [
      Buffer.from(`${gga}\r\n${bad}\r\n$GPGGA,1,2,3\r\nhello\r\n`),
      Buffer.from([0x00, 0xff, 0x24, 0x9a, 0x0d, 0x0a]),
      Buffer.from(`${gga}\r\n`),
    ])
    expect(r.frames).toHaveLength(2)
    expect(r.garbage).toEqual(['bad_checksum', 'bad_checksum', 'not_nmea', 'binary'])
  })

  test('noise before a sentence on the same line is skipped (resync at "$")', () => {
    const r = run({ framing: 'nmea' }, [
      Buffer.concat([Buffer.from([0xff, 0x00, 0x13]), Buffer.from(`${gga}\r\n`)]),
    ])
    expect(r.frames).toHaveLength(1)
    expect(r.garbage).toEqual([])
  })

  test('a proprietary sentence nmea-simple does not know is published with its raw fields', () => {
    const r = run({ framing: 'nmea' }, [Buffer.from(`${withChecksum('$PSIM,dev-1,42')}\r\n`)])
    expect(r.frames.map((f) => f.json)).toEqual([
      { talkerId: 'P', sentenceId: 'SIM', fields: ['dev-1', '42'] },
    ])
  })

  test("the simulator's GGA and VTG sentences decode back to its position and speed", () => {
    const sensor = createSensor('gps', 'gps-1', 0, prng(7))
    const reading = sensor.next(Date.UTC(2026, 0, 2, 3, 4, 5))
    const r = run({ framing: 'nmea' }, [Buffer.from(toNmea(reading).join(''))])
    expect(r.garbage).toEqual([])
    const [pos, course] = r.frames.map((f) => f.json as Record<string, number>)
    expect(pos?.latitude).toBeCloseTo(reading.lat as number, 5)
    expect(pos?.longitude).toBeCloseTo(reading.lon as number, 5)
    expect(course?.speedKmph).toBeCloseTo(reading.speedKmh as number, 1)
  })
})

describe('cobs and slip', () => {
  const payloads = [
    Buffer.from([]),
    Buffer.from([0]),
    Buffer.from([0, 0, 1, 0]),
    Buffer.from('{"device":"d","seq":1}'),
    Buffer.alloc(254, 7),
    Buffer.alloc(255, 7),
    Buffer.from(Array.from({ length: 600 }, (_, i) => i % 256)),
    Buffer.from([0xc0, 0xdb, 0xdc, 0xdd, 0xc0]),
  ]

  test('cobs: every payload (zeros, 254/255-byte runs) survives encoding, chunking and decoding', () => {
    const wire = Buffer.concat(payloads.map((p) => Buffer.concat([cobsEncode(p), Buffer.from([0])])))
    const r = run({ framing: 'cobs' }, chopped(wire, 11))
    // An empty payload encodes as [0x01]: a frame of its own, decoded to zero bytes.
    expect(r.frames.map((f) => f.payload.toString('hex'))).toEqual(payloads.map((p) => p.toString('hex')))
    expect(r.garbage).toEqual([])
  })

  test('cobs: a block that runs past its frame is counted as "bad_frame"; the next frame arrives', () => {
    const good = Buffer.concat([cobsEncode(Buffer.from('ok')), Buffer.from([0])])
    const r = run({ framing: 'cobs' }, [Buffer.from([0x09, 0x41, 0x42, 0x00]), good])
    expect(r.text).toEqual(['ok'])
    expect(r.garbage).toEqual(['bad_frame'])
  })

  test('slip: every payload survives; a bad escape is counted; leading END bytes are tolerated', () => {
    const nonEmpty = payloads.filter((p) => p.length > 0)
    const wire = Buffer.concat([
      Buffer.from([0xc0, 0xc0]),
      ...nonEmpty.map((p) => slipEncode(p)),
      Buffer.from([0x41, 0xdb, 0x41, 0xc0]),
      slipEncode(Buffer.from('after')),
    ])
    const r = run({ framing: 'slip' }, chopped(wire, 5))
    expect(r.frames.map((f) => f.payload.toString('hex'))).toEqual(
      [...nonEmpty, Buffer.from('after')].map((p) => p.toString('hex')),
    )
    expect(r.garbage).toEqual(['bad_frame'])
  })

  test("the simulator's frames decode to its readings in every framing", () => {
    const sensor = createSensor('env', 'env-1', 0, prng(3))
    const readings = Array.from({ length: 20 }, (_, i) => sensor.next(1_700_000_000_000 + i * 1000))
    for (const framing of ['json-lines', 'cobs', 'slip'] as const) {
      const wire = Buffer.concat(readings.map((r) => encodeFrame(framing, r)))
      const r = run({ framing }, chopped(wire, 9))
      expect(
        r.frames.map((f) => JSON.parse(f.payload.toString())),
        framing,
      ).toEqual(readings)
    }
    const lines = run({ framing: 'lines' }, [Buffer.concat(readings.map((r) => encodeFrame('lines', r)))])
    expect(lines.text[3]).toMatch(/^device=env-1 seq=3 ts=\S+ temperatureC=[-\d.]+ /)
  })
})
