// devices.serial: line settings, framings, the topic template ({device}, {gatewayId}, {json.FIELD} for
// JSON framings) and the cross-checks, each problem reported with its path.
import { describe, expect, test } from 'vitest'
import { compileDeviceTopic, parseDeviceTopic } from '../../config/device-topic.js'
import { parseConfigText } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { messageAt, pathsOf, problemsOf } from '../helpers/config.js'

const parse = (text: string): Config =>
  parseConfigText(text, 'test.yaml', { env: {}, defaultGatewayId: 'gw-test' })
const devices = (...lines: string[]) => `devices:\n  serial:\n${lines.map((l) => `    - ${l}`).join('\n')}`

describe('devices.serial', () => {
  test('line settings, framing, delimiter, cap and reopen delays are taken as written', () => {
    const config = parse(
      devices(
        '{ name: gps, path: /dev/ttyACM0, baudRate: 4800, dataBits: 7, parity: even, stopBits: 2, rtscts: true, framing: nmea, topic: "gps/{json.sentenceId}", maxFrameBytes: 1KiB, qos: 0, reopen: { minMs: 100, maxMs: 2000 } }',
        '{ name: plc, path: /dev/ttyS1, framing: lines, delimiter: ";", topic: plc }',
      ),
    )
    expect(config.devices.serial[0]).toMatchObject({
      baudRate: 4800,
      dataBits: 7,
      parity: 'even',
      stopBits: 2,
      rtscts: true,
      framing: 'nmea',
      maxFrameBytes: 1024,
      qos: 0,
      reopen: { minMs: 100, maxMs: 2000 },
    })
    expect(config.devices.serial[1]?.delimiter).toBe(';')
  })

  test('bad values are reported at their paths: data bits, parity, stop bits, framing, qos, reopen', () => {
    const problems = problemsOf(() =>
      parse(
        devices(
          '{ name: a, path: /dev/a, topic: t, dataBits: 9, parity: sometimes, stopBits: 1.5, framing: modbus, qos: 2, reopen: { minMs: 900, maxMs: 100 } }',
        ),
      ),
    )
    expect(pathsOf(problems).sort()).toEqual(
      [
        'devices.serial[0].dataBits',
        'devices.serial[0].framing',
        'devices.serial[0].parity',
        'devices.serial[0].qos',
        'devices.serial[0].reopen',
        'devices.serial[0].stopBits',
      ].sort(),
    )
    const reopen = problemsOf(() =>
      parse(devices('{ name: a, path: /dev/a, topic: t, reopen: { minMs: 900, maxMs: 100 } }')),
    )
    expect(messageAt(reopen, 'devices.serial[0].reopen')).toMatch(/minMs must not exceed maxMs/)
  })

  test('two devices on one port, {json.…} without a JSON framing, unknown placeholders and wildcards are refused', () => {
    const problems = problemsOf(() =>
      parse(
        devices(
          '{ name: a, path: /dev/ttyUSB0, topic: "m/{json.id}" }',
          '{ name: b, path: /dev/ttyUSB0, framing: json-lines, topic: "m/{json.id}/{origin}" }',
          '{ name: c, path: /dev/ttyUSB1, topic: "m/+/x" }',
          '{ name: d, path: /dev/ttyUSB2, framing: cobs, topic: "m/{json.id}" }',
        ),
      ),
    )
    expect(pathsOf(problems).sort()).toEqual(
      [
        'devices.serial[0].topic',
        'devices.serial[1].path',
        'devices.serial[1].topic',
        'devices.serial[2].topic',
        'devices.serial[3].topic',
      ].sort(),
    )
    expect(messageAt(problems, 'devices.serial[0].topic')).toMatch(/json-lines, nmea or modbus-rtu.*"lines"/)
    expect(messageAt(problems, 'devices.serial[1].path')).toMatch(/devices\.serial\[0\] reads the same port/)
    expect(messageAt(problems, 'devices.serial[1].topic')).toMatch(/unknown placeholder \{origin\}/)
    expect(messageAt(problems, 'devices.serial[2].topic')).toMatch(/must not contain "\+", "#"/)
  })
})

describe('devices.serial modbus-rtu', () => {
  const plc = (modbus: string, extra = '') =>
    `{ name: plc, path: /dev/ttyUSB0, framing: modbus-rtu, topic: "plc/{unit}"${extra}, modbus: ${modbus} }`

  test('units, timing and registers are taken as written, with defaults filled in', () => {
    const config = parse(
      devices(
        plc(
          '{ units: [3, 1], intervalMs: 2000, timeoutMs: 300, registers: [{ name: voltage, type: input, address: 0, format: float32, wordOrder: low-first }, { name: temp, type: holding, address: 10, format: int16, scale: 0.1 }, { name: flags, type: holding, address: 11, count: 4 }] }',
        ),
        '{ name: meter, path: /dev/ttyUSB1, framing: modbus-rtu, topic: meter, modbus: { unitId: 7, registers: [{ name: kwh, type: input, address: 100, format: uint32 }] } }',
      ),
    )
    expect(config.devices.serial[0]?.modbus).toEqual({
      units: [3, 1],
      intervalMs: 2000,
      timeoutMs: 300,
      registers: [
        { name: 'voltage', type: 'input', address: 0, count: 1, format: 'float32', wordOrder: 'low-first' },
        {
          name: 'temp',
          type: 'holding',
          address: 10,
          count: 1,
          format: 'int16',
          wordOrder: 'high-first',
          scale: 0.1,
        },
        { name: 'flags', type: 'holding', address: 11, count: 4, format: 'uint16', wordOrder: 'high-first' },
      ],
    })
    expect(config.devices.serial[1]?.modbus).toMatchObject({ unitId: 7, intervalMs: 5000, timeoutMs: 1000 })
  })

  test('each mistake is reported at its path: unit ids, duplicates, spans over 125 registers or past 65535, formats', () => {
    const problems = problemsOf(() =>
      parse(
        devices(
          plc('{ unitId: 1, units: [2], registers: [{ name: a, type: holding, address: 0 }] }'),
          plc(
            '{ units: [0, 5, 5, 248], registers: [{ name: a, type: coil, address: 0 }, { name: a, type: input, address: 65535, format: uint32 }, { name: b, type: input, address: 0, format: float32, count: 63 }, { name: c, type: input, address: 0, format: float64, scale: 0 }] }',
          )
            .replace('plc,', 'plc2,')
            .replace('ttyUSB0', 'ttyUSB1'),
        ),
      ),
    )
    expect(pathsOf(problems).sort()).toEqual(
      [
        'devices.serial[0].modbus.unitId',
        'devices.serial[1].modbus.units[0]',
        'devices.serial[1].modbus.units[3]',
        'devices.serial[1].modbus.registers[0].type',
        'devices.serial[1].modbus.registers[3].format',
        'devices.serial[1].modbus.registers[3].scale',
      ].sort(),
    )
    expect(messageAt(problems, 'devices.serial[0].modbus.unitId')).toMatch(/either unitId or units/)
    // The cross-checks of a block run once its fields parse.
    const spans = problemsOf(() =>
      parse(
        devices(
          plc(
            '{ units: [5, 5], registers: [{ name: a, type: holding, address: 0 }, { name: a, type: input, address: 65535, format: uint32 }, { name: b, type: input, address: 0, format: float32, count: 63 }] }',
          ),
        ),
      ),
    )
    expect(pathsOf(spans).sort()).toEqual(
      [
        'devices.serial[0].modbus.units[1]',
        'devices.serial[0].modbus.registers[1].name',
        'devices.serial[0].modbus.registers[1].address',
        'devices.serial[0].modbus.registers[2].count',
      ].sort(),
    )
    expect(messageAt(spans, 'devices.serial[0].modbus.registers[2].count')).toMatch(
      /126 registers.*at most 125/,
    )
    expect(messageAt(spans, 'devices.serial[0].modbus.registers[1].address')).toMatch(/past the last address/)
  })

  test('modbus-rtu without modbus settings, modbus settings on another framing, {unit} elsewhere are refused', () => {
    const problems = problemsOf(() =>
      parse(
        devices(
          '{ name: a, path: /dev/a, framing: modbus-rtu, topic: t }',
          '{ name: b, path: /dev/b, framing: lines, topic: t, modbus: { unitId: 1, registers: [{ name: x, type: input, address: 0 }] } }',
          '{ name: c, path: /dev/c, framing: json-lines, topic: "t/{unit}" }',
        ),
      ),
    )
    expect(pathsOf(problems).sort()).toEqual(
      ['devices.serial[0].modbus', 'devices.serial[1].modbus', 'devices.serial[2].topic'].sort(),
    )
    expect(messageAt(problems, 'devices.serial[0].modbus')).toMatch(/needs modbus/)
    expect(messageAt(problems, 'devices.serial[1].modbus')).toMatch(/go with framing modbus-rtu.*"lines"/)
    expect(messageAt(problems, 'devices.serial[2].topic')).toMatch(/\{unit\} is for framing modbus-rtu/)
  })

  test('{unit} and {json.…} render from the published JSON', () => {
    const topic = compileDeviceTopic('plc/{device}/{unit}/{json.values.mode}', 'modbus-rtu', {
      device: 'plc',
      gatewayId: 'gw',
    })
    expect(topic({ unit: 3, values: { mode: 2 } })).toBe('plc/plc/3/2')
  })
})

describe('device topic templates', () => {
  const ctx = { device: 'probe', gatewayId: 'gw-1' }

  test('{device}, {gatewayId} and nested {json.a.b} fields render; a constant template is computed once', () => {
    const topic = compileDeviceTopic(
      'sites/{gatewayId}/{json.meta.site}/{device}-{json.id}',
      'json-lines',
      ctx,
    )
    expect(topic({ id: 7, meta: { site: 'north' } })).toBe('sites/gw-1/north/probe-7')
    expect(compileDeviceTopic('meters/{device}', 'lines', ctx)(undefined)).toBe('meters/probe')
  })

  test.each([
    ['missing', { other: 1 }],
    ['an object', { id: { x: 1 } }],
    ['empty', { id: '' }],
    ['with a "/"', { id: 'a/b' }],
    ['with a wildcard', { id: 'a+' }],
    ['not finite', { id: Number.NaN }],
    ['not an object', [1, 2]],
  ])('a field that is %s renders no topic (the frame is counted as topic_field)', (_what, json) => {
    expect(compileDeviceTopic('m/{json.id}', 'json-lines', ctx)(json)).toBeUndefined()
  })

  test('parse errors say what would be valid', () => {
    expect(parseDeviceTopic('a/{json.}', 'json-lines')).toMatchObject({
      ok: false,
      error: /unknown placeholder/,
    })
    expect(parseDeviceTopic('a/{json.id', 'json-lines')).toMatchObject({
      ok: false,
      error: /unbalanced brace/,
    })
    expect(parseDeviceTopic('a/{json.id}', 'nmea')).toMatchObject({ ok: true })
  })
})
