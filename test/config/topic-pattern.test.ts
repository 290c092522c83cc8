// Syntax of route/downlink filters and templates: what parses, what is refused, and capture numbering.
import { describe, expect, test } from 'vitest'
import { captureCount, parseFilter, parseTemplate } from '../../config/topic-pattern.js'

function levelsOf(filter: string) {
  const parsed = parseFilter(filter)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

describe('parseFilter', () => {
  test('levels and captures: each +, a trailing # and each {gatewayId} is a capture', () => {
    expect(levelsOf('commands/{gatewayId}/#')).toEqual([
      { kind: 'literal', text: 'commands' },
      { kind: 'gatewayId' },
      { kind: 'hash' },
    ])
    expect(captureCount(levelsOf('commands/{gatewayId}/#'))).toBe(2)
    expect(captureCount(levelsOf('sensors/+/telemetry'))).toBe(1)
    expect(captureCount(levelsOf('+/+/#'))).toBe(3)
    expect(captureCount(levelsOf('a/b'))).toBe(0)
    expect(levelsOf('a//b')).toEqual([
      { kind: 'literal', text: 'a' },
      { kind: 'literal', text: '' },
      { kind: 'literal', text: 'b' },
    ])
  })

  test.each([
    ['', /must not be empty/],
    ['a/\u0000', /NUL/],
    ['a/#/b', /"#" must be the last level/],
    ['a#', /must fill a whole level/],
    ['a/b+', /must fill a whole level/],
    ['a/{id}', /only \{gatewayId\}/],
    ['a/x{gatewayId}', /only \{gatewayId\}/],
  ])('%j is refused', (filter, error) => {
    const parsed = parseFilter(filter)
    expect(parsed.ok).toBe(false)
    expect(parsed.ok ? '' : parsed.error).toMatch(error)
  })
})

describe('parseTemplate', () => {
  test('text and placeholders, in order', () => {
    expect(parseTemplate('sites/{gatewayId}/{topic}/{origin}/{2}', 2)).toEqual({
      ok: true,
      value: [
        { kind: 'text', text: 'sites/' },
        { kind: 'gatewayId' },
        { kind: 'text', text: '/' },
        { kind: 'topic' },
        { kind: 'text', text: '/' },
        { kind: 'origin' },
        { kind: 'text', text: '/' },
        { kind: 'capture', index: 2 },
      ],
    })
  })

  test.each([
    ['x/{2}', 1, 'topic', /capture 2 but the filter has 1 capture$/],
    ['x/{1}', 0, 'topic', /capture 1 but the filter has 0 captures/],
    ['x/{0}', 3, 'topic', /unknown placeholder \{0\}/],
    ['{Topic}', 0, 'topic', /unknown placeholder/],
    ['x/{1', 1, 'topic', /unbalanced brace/],
    ['x}', 0, 'topic', /unbalanced brace/],
    ['a/+/b', 0, 'topic', /wildcards/],
    ['a/#', 0, 'topic', /wildcards/],
  ] as const)('%j with %d captures (%s) is refused', (template, captures, kind, error) => {
    const parsed = parseTemplate(template, captures, kind)
    expect(parsed.ok).toBe(false)
    expect(parsed.ok ? '' : parsed.error).toMatch(error)
  })

  test('a key template may contain "+" and "#"', () => {
    expect(parseTemplate('a+b#{1}', 1, 'key').ok).toBe(true)
  })
})
