// What a CLI command may touch, passed in so commands can be driven from tests.
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  env: NodeJS.ProcessEnv
}

/** sysexits.h: the exit statuses systemd and shell scripts understand. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  UNAVAILABLE: 69,
  TEMPFAIL: 75,
  CONFIG: 78,
} as const

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`)
}
