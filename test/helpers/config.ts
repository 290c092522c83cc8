// Test-only helpers for config suites: run a load and get the ConfigError it threw.
import { expect } from 'vitest'
import { ConfigError, type ConfigErrorCode, type ConfigProblem } from '../../config/errors.js'

/** Calls `load`, expects a ConfigError (of `code`), and returns it. */
export function configErrorOf(
  load: () => unknown,
  code: ConfigErrorCode = 'OUTPOST_CONFIG_INVALID',
): ConfigError {
  let thrown: unknown
  try {
    const value = load()
    thrown = new Error(`expected ${code}, but the config loaded: ${JSON.stringify(value)}`)
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(ConfigError)
  expect((thrown as ConfigError).code).toBe(code)
  return thrown as ConfigError
}

/** The problems of a failed load, as `path: message` lines (easy to read in a failed assertion). */
export function problemsOf(load: () => unknown): ConfigProblem[] {
  return [...configErrorOf(load).problems]
}

export function pathsOf(problems: readonly ConfigProblem[]): string[] {
  return problems.map((p) => p.path)
}

/** The message of the one problem at `path` (fails when there is none, or several). */
export function messageAt(problems: readonly ConfigProblem[], path: string): string {
  const at = problems.filter((p) => p.path === path)
  expect(at, `problems at "${path}" among ${JSON.stringify(problems)}`).toHaveLength(1)
  return (at[0] as ConfigProblem).message
}
