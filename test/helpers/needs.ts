// Tests that need something outside Node (a binary, root, a mount) skip with a message naming it on a
// developer machine, and fail under CI=true: CI must have installed it.
import { execFileSync } from 'node:child_process'

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1'

/** Whether a command is on PATH. */
export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Returns true when the test should run. When `available` is false: under CI it throws (the run fails
 * with the reason); elsewhere it prints why and returns false so the caller can skip.
 */
export function needs(what: string, available: boolean): boolean {
  if (available) return true
  const message = `needs ${what}`
  if (IN_CI) throw new Error(`${message} (CI=true: tests must not skip; .ci/run installs it)`)
  console.warn(`skipping: ${message}`)
  return false
}
