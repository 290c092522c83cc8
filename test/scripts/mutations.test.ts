// The mutation list (scripts/mutate/mutations.ts) stays pointed at real code: each original text is
// found exactly once in its file and each listed test file exists. When code moves, this fails and
// names the mutation to re-point, instead of `npm run mutate` quietly testing unmutated code.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { applyMutation, MutationNotFoundError, occurrences } from '../../scripts/mutate/apply-mutation.js'
import { MUTATIONS } from '../../scripts/mutate/mutations.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('mutation list', () => {
  test('names are unique', () => {
    const names = MUTATIONS.map((m) => m.name)
    expect(new Set(names).size).toBe(names.length)
  })

  test.each(MUTATIONS.map((m) => [m.name, m] as const))('%s: its code and its tests are there', (_, m) => {
    const source = readFileSync(`${ROOT}${m.file}`, 'utf8')
    expect(occurrences(source, m.original), `original text of ${m.name} in ${m.file}`).toBe(1)
    expect(applyMutation(source, m)).not.toBe(source)
    expect(m.tests.length).toBeGreaterThan(0)
    for (const t of m.tests) expect(existsSync(`${ROOT}${t}`), t).toBe(true)
  })

  test('a mutation whose original text is missing or ambiguous is refused, not skipped', () => {
    const m = { name: 'x', file: 'f.ts', original: 'a > b', replacement: 'a >= b' }
    expect(() => applyMutation('nothing here', m)).toThrow(MutationNotFoundError)
    expect(() => applyMutation('a > b; a > b', m)).toThrow(/occurs 2 times in f\.ts/)
    expect(applyMutation('x = a > b', m)).toBe('x = a >= b')
    expect(applyMutation('a > b', { ...m, replacement: '$& $1' })).toBe('$& $1') // verbatim
  })
})
