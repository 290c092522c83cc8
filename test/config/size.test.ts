// Size strings in config: parsing (binary and decimal units, whitespace, case) and formatting for humans.
import { describe, expect, test } from 'vitest'
import { formatSize, parseSize } from '../../config/size.js'

describe('parseSize', () => {
  test.each([
    ['0', 0],
    ['1', 1],
    ['10B', 10],
    ['1KiB', 1024],
    ['512MiB', 512 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['2TiB', 2 * 2 ** 40],
    ['64 kB', 64_000],
    ['1MB', 1_000_000],
    ['4 GB', 4_000_000_000],
    ['1TB', 1e12],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['0.5KiB', 512],
    ['  8 mib  ', 8 * 2 ** 20],
    ['3gib', 3 * 2 ** 30],
  ])('%j → %d', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes)
  })

  test.each([
    '',
    ' ',
    'lots',
    'MiB',
    '-1',
    '-5MiB',
    '1e6',
    '12 XB',
    '1 024',
    '1,5GiB',
    '0x10',
    '1GiB2',
    '.5GiB',
  ])('%j is not a size', (text) => {
    expect(parseSize(text)).toBeUndefined()
  })

  test('a size too large to count in bytes exactly is not a size', () => {
    expect(parseSize('9000000TiB')).toBeUndefined()
  })
})

describe('formatSize', () => {
  test.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [10 * 2 ** 20, '10 MiB'],
    [100 * 2 ** 20, '100 MiB'],
    [256 * 2 ** 20, '256 MiB'],
    [2 ** 30, '1 GiB'],
    [4 * 2 ** 30, '4 GiB'],
    [2.25 * 2 ** 30, '2.25 GiB'],
    [2 ** 50, '1024 TiB'],
  ])('%d → %j', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text)
  })

  test('what formatSize prints parses back to (about) the same size', () => {
    for (const bytes of [1, 1000, 4096, 65_000, 123_456_789, 2 ** 33 + 7]) {
      const back = parseSize(formatSize(bytes).replace(' ', '')) as number
      expect(Math.abs(back - bytes) / bytes).toBeLessThan(0.01)
    }
  })
})
