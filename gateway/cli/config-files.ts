// Files a config names (TLS certificates, keys and CAs of listeners and upstreams), checked the way the
// gateway will open them: as this user, relative to the working directory. check-config reports each one
// that is missing or unreadable; start refuses to begin without them (exit 66) instead of failing half
// way with a stack trace.
import { closeSync, fstatSync, openSync } from 'node:fs'
import type { Config } from '../../config/schema.js'

export interface NamedFile {
  /** Where the config names it, e.g. `broker.listeners[1].certFile`. */
  path: string
  file: string
}

export interface FileProblem extends NamedFile {
  /** missing: no such file; unreadable: permission or I/O; not-a-file: a directory or similar. */
  reason: 'missing' | 'unreadable' | 'not-a-file'
  message: string
}

export function namedFiles(config: Config): NamedFile[] {
  const out: NamedFile[] = []
  const add = (path: string, file: string | undefined) => {
    if (file !== undefined) out.push({ path, file })
  }
  config.broker.listeners.forEach((l, i) => {
    if (l.type !== 'tls') return
    add(`broker.listeners[${i}].certFile`, l.certFile)
    add(`broker.listeners[${i}].keyFile`, l.keyFile)
    add(`broker.listeners[${i}].caFile`, l.caFile)
  })
  config.upstreams.forEach((u, i) => {
    const tls = u.type === 'mqtt' ? u : u.tls
    const at = u.type === 'mqtt' ? `upstreams[${i}]` : `upstreams[${i}].tls`
    add(`${at}.caFile`, tls?.caFile)
    add(`${at}.certFile`, tls?.certFile)
    add(`${at}.keyFile`, tls?.keyFile)
  })
  return out
}

/** Every named file that cannot be opened for reading by this process, with why. */
export function fileProblems(config: Config): FileProblem[] {
  const problems: FileProblem[] = []
  for (const named of namedFiles(config)) {
    const problem = checkReadable(named.file)
    if (problem) problems.push({ ...named, ...problem })
  }
  return problems
}

function checkReadable(file: string): Pick<FileProblem, 'reason' | 'message'> | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return { reason: 'missing', message: `${file}: no such file` }
    const uid = process.getuid?.()
    return {
      reason: 'unreadable',
      message: `${file}: cannot be read${uid === undefined ? '' : ` by uid ${uid}`} (${code ?? (err as Error).message})`,
    }
  }
  try {
    if (!fstatSync(fd).isFile()) return { reason: 'not-a-file', message: `${file}: not a file` }
  } finally {
    closeSync(fd)
  }
  return undefined
}

/**
 * Configs that validate but cannot do their job: with anonymous devices off and no users, every device
 * is refused.
 */
export function usefulnessWarnings(config: Config): string[] {
  const warnings: string[] = []
  if (!config.broker.allowAnonymous && config.broker.users.length === 0) {
    warnings.push(
      'broker: no device can connect: allowAnonymous is false and broker.users is empty — add a user ' +
        '(`outpost passwd NAME` prints its line for broker.users)',
    )
  }
  return warnings
}
