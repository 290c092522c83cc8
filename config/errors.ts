// Errors of the config area. Codes are a closed set; classify by code, never by message text.

export const CONFIG_ERROR_CODES = ['OUTPOST_CONFIG_INVALID', 'OUTPOST_CONFIG_UNREADABLE'] as const
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number]

/** One thing wrong with a config, at a path such as `upstreams[1].brokers` ('' for the whole file). */
export interface ConfigProblem {
  path: string
  message: string
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code: ConfigErrorCode
  readonly file: string
  readonly problems: readonly ConfigProblem[]
  /** A config does not fix itself: retrying with the same file is pointless. */
  readonly canRetry = false

  constructor(code: ConfigErrorCode, file: string, problems: ConfigProblem[], options?: { cause?: unknown }) {
    super(ConfigError.describe(file, problems), options)
    this.code = code
    this.file = file
    this.problems = problems
  }

  static describe(file: string, problems: readonly ConfigProblem[]): string {
    const lines = problems.map((p) => (p.path ? `  ${p.path}: ${p.message}` : `  ${p.message}`))
    const n = problems.length
    return `${file}: ${n} problem${n === 1 ? '' : 's'}\n${lines.join('\n')}`
  }
}
