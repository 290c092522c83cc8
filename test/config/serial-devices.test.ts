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
    expect(messageAt(problems, 'devices.serial[0].topic')).toMatch(/json-lines or nmea.*"lines"/)
    expect(messageAt(problems, 'devices.serial[1].path')).toMatch(/devices\.serial\[0\] reads the same port/)
    expect(messageAt(problems, 'devices.serial[1].topic')).toMatch(/unknown placeholder \{origin\}/)
    expect(messageAt(problems, 'devices.serial[2].topic')).toMatch(/must not contain "\+", "#"/)
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
