// What a CLI command may touch, passed in so commands can be driven from tests.
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  env: NodeJS.ProcessEnv
}

/** sysexits.h: the exit statuses systemd and shell scripts understand (README, "Exit statuses"). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  /** A file the config names (TLS certificate, key, CA; the config itself) is missing or unreadable. */
  NOINPUT: 66,
  /** A port is taken or an address is not this machine's; no outbox where one was expected. */
  UNAVAILABLE: 69,
  /** The data dir cannot be created or written. */
  CANTCREAT: 73,
  /** The outbox could not be read or written (a damaged or failing card). */
  IOERR: 74,
  TEMPFAIL: 75,
  /** Not allowed: a port below 1024 without the capability, a file or dir of another user. */
  NOPERM: 77,
  CONFIG: 78,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`)
}
