// Applies one mutation to a file's text: the original must occur exactly once (a mutation that no
// longer finds its code must say so, not quietly test the unmutated code).
import type { Mutation } from './mutations.js'

export class MutationNotFoundError extends Error {
  override readonly name = 'MutationNotFoundError'
}

export function occurrences(text: string, part: string): number {
  if (part === '') return 0
  let n = 0
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length)) n++
  return n
}

export function applyMutation(
  source: string,
  mutation: Pick<Mutation, 'name' | 'file' | 'original' | 'replacement'>,
): string {
  const n = occurrences(source, mutation.original)
  if (n !== 1) {
    throw new MutationNotFoundError(
      `${mutation.name}: the original text occurs ${n} times in ${mutation.file} (expected exactly once); ` +
        're-point it in scripts/mutate/mutations.ts',
    )
  }
  // A function replacer: `$` in the replacement stays literal.
  return source.replace(mutation.original, () => mutation.replacement)
}
