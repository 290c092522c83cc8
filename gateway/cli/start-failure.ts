// Why `outpost start` could not start, as one line a person can act on (what, where, what to do) and a
// sysexits status (README, "Exit statuses"). The JSON log keeps the details; this line goes to stderr,
// which systemd's journal shows next to it.
import { userInfo } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../../config/schema.js'
import { isOutboxError } from '../../store/errors.js'
import { GatewayError } from '../errors.js'
import { EXIT, type ExitCode } from './io.js'

export interface StartFailure {
  code: ExitCode
  line: string
}

interface Where {
  config: Config
  file: string
}

const fail = (code: ExitCode, what: string, todo: string): StartFailure => ({
  code,
  line: `outpost: cannot start: ${what} — ${todo}`,
})

export function runningUser(): string {
  try {
    return userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

/** A file the config names is missing or unreadable (exit 66). */
export function fileFailure(path: string, message: string, where: Where): StartFailure {
  return fail(
    EXIT.NOINPUT,
    `${path}: ${message}`,
    `fix ${path} in ${where.file}, or put the file there readable by ${runningUser()}`,
  )
}

/** The data dir cannot be created or written (exit 73). */
export function dataDirFailure(err: unknown, where: Where): StartFailure {
  const dir = where.config.dataDir
  const code = (err as NodeJS.ErrnoException).code
  const why = code ? `${code}, ${errnoText(err)}` : (err as Error).message
  const todo =
    code === 'EACCES' || code === 'EPERM'
      ? `let ${runningUser()} write there (chown -R ${runningUser()} ${dir}) or set dataDir in ${where.file}`
      : code === 'EROFS'
        ? `the file system is read-only (a failing SD card is remounted read-only: see dmesg), or set dataDir in ${where.file}`
        : code === 'ENOSPC'
          ? `the disk is full: free some space, or set dataDir in ${where.file} to another disk`
          : `set dataDir in ${where.file} to a directory ${runningUser()} can create and write (installed: /var/lib/outpost)`
  const cannotCreate = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EEXIST'
  const what = `the data dir ${dir} ${cannotCreate ? 'cannot be created' : 'is not writable'} (${why})`
  return fail(EXIT.CANTCREAT, what, todo)
}

/** Classifies what gateway.start() threw. */
export function startFailure(err: unknown, where: Where): StartFailure {
  const { config, file } = where
  const listen = listenError(err)
  if (listen) {
    const { code, port, address } = listen
    const at = describeSocket(config, port, address)
    if (code === 'EADDRINUSE') {
      const todo = at.broker
        ? `is mosquitto running? \`systemctl stop mosquitto\` or change broker.listeners in ${file}`
        : `is another outpost running? \`systemctl status outpost\`, or change ${at.path} in ${file}`
      return fail(EXIT.UNAVAILABLE, `port ${port} (${at.path}) is in use`, todo)
    }
    if (code === 'EACCES') {
      return fail(
        EXIT.NOPERM,
        `port ${port} (${at.path}) needs privileges (a port below 1024)`,
        `use a port of 1024 or above in ${file}`,
      )
    }
    if (code === 'EADDRNOTAVAIL') {
      return fail(
        EXIT.UNAVAILABLE,
        `${address} (${at.path}) is not an address of this machine`,
        `use 0.0.0.0 (every interface), 127.0.0.1 or one of this machine's addresses in ${file}`,
      )
    }
  }
  if (isOutboxError(err, 'OUTPOST_OUTBOX_LOCKED')) {
    return fail(
      EXIT.TEMPFAIL,
      `the outbox in ${config.dataDir} is in use by another gateway`,
      `stop it first (\`systemctl status outpost\`), or give this one another dataDir in ${file}`,
    )
  }
  if (isOutboxError(err, 'OUTPOST_OUTBOX_NO_SPACE')) return dataDirFailure({ code: 'ENOSPC' }, where)
  if (err instanceof GatewayError && err.code === 'OUTPOST_SESSION_STORE_LOCKED') {
    return fail(
      EXIT.TEMPFAIL,
      `the broker's session store in ${join(config.dataDir, 'broker')} is in use by another process`,
      `stop it first (\`systemctl status outpost\`), or give this gateway another dataDir in ${file}`,
    )
  }
  if (err instanceof GatewayError && err.code === 'OUTPOST_SESSION_STORE_OPEN_FAILED') {
    const cause = errnoOf(err)
    if (cause?.code === 'EACCES' || cause?.code === 'EPERM') {
      return fail(
        EXIT.CANTCREAT,
        err.message,
        `let ${runningUser()} write there (chown -R ${runningUser()} ${config.dataDir}), or set dataDir in ${file}`,
      )
    }
    return fail(
      EXIT.IOERR,
      err.message,
      `the card may be damaged or failing (dmesg); to start without the stored sessions, move ${join(config.dataDir, 'broker')} aside or set broker.persistence: memory in ${file}`,
    )
  }
  const levelCode = (err as { code?: unknown }).code
  if (
    isOutboxError(err, 'OUTPOST_OUTBOX_OPEN_FAILED') ||
    (typeof levelCode === 'string' && levelCode.startsWith('LEVEL_'))
  ) {
    const cause = errnoOf(err)
    if (cause && ['EACCES', 'EPERM', 'EROFS', 'ENOSPC'].includes(cause.code as string)) {
      return dataDirFailure(cause, where)
    }
    return fail(
      EXIT.IOERR,
      `cannot open the outbox in ${config.dataDir}: ${(err as Error).message}`,
      `the card may be damaged or failing (dmesg); \`outpost outbox stats --config ${file}\` says more`,
    )
  }
  const message = (err as Error).message ?? String(err)
  return fail(EXIT.FAILURE, message, 'see the log line above for details')
}

function listenError(err: unknown): { code: string; port: number; address: string } | undefined {
  const e = err instanceof GatewayError && err.code === 'OUTPOST_LISTEN_FAILED' ? err.cause : err
  const errno = e as NodeJS.ErrnoException & { port?: number; address?: string }
  if (errno?.syscall !== 'listen' && errno?.syscall !== 'bind') return undefined
  if (typeof errno.port !== 'number' || typeof errno.code !== 'string') return undefined
  return { code: errno.code, port: errno.port, address: errno.address ?? '' }
}

/** Which configured socket a port belongs to. */
function describeSocket(config: Config, port: number, address: string): { path: string; broker: boolean } {
  const i = config.broker.listeners.findIndex((l) => l.port === port && (l.host === address || !address))
  const j = i >= 0 ? i : config.broker.listeners.findIndex((l) => l.port === port)
  if (j >= 0) {
    const l = config.broker.listeners[j]
    return { path: `broker.listeners[${j}], ${l?.type} ${l?.host}`, broker: true }
  }
  if (config.http.enabled && config.http.port === port) return { path: 'http.port', broker: false }
  return { path: `${address}:${port}`, broker: false }
}

function errnoOf(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).syscall) {
      return e as NodeJS.ErrnoException
    }
  }
  return undefined
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  const texts: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    ENOENT: 'the file system refuses it',
    ENOTDIR: 'a part of the path is not a directory',
    EEXIST: 'exists and is not a directory',
  }
  return (code && texts[code]) ?? (err as Error).message ?? 'error'
}
