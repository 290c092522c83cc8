// Who may connect, publish and subscribe: broker.users with scrypt password hashes and per-user topic
// filters (%u = username); anonymous clients only where the config allows them.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { UserConfig } from '../../config/schema.js'
import { compileFilter, type Matcher } from '../topic-match.js'
import { verifyPassword } from './password.js'

export interface Principal {
  username: string | undefined
  /** Publish filters, compiled once at connect (checked on every publish); undefined = anything. */
  publish: readonly Matcher[] | undefined
  subscribe: readonly string[]
}

const ANONYMOUS: Principal = { username: undefined, publish: undefined, subscribe: ['#'] }

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'bad-credentials' | 'anonymous' }

export class Acl {
  private readonly users = new Map<string, UserConfig>()
  // scrypt costs ~50 ms of CPU; devices reconnect often. After one successful check, the same password
  // is recognised by a salted SHA-256 kept in memory only.
  private readonly verified = new Map<string, Buffer>()

  constructor(
    users: readonly UserConfig[],
    private readonly allowAnonymous: boolean,
  ) {
    for (const u of users) this.users.set(u.username, u)
  }

  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<AuthResult> {
    if (username === undefined || username === '') {
      return this.allowAnonymous ? { ok: true, principal: ANONYMOUS } : { ok: false, reason: 'anonymous' }
    }
    const user = this.users.get(username)
    const text = password?.toString('utf8') ?? ''
    // Defence in depth (the config schema refuses such names): %u must never become a wildcard.
    if (!user || /[+#/]/.test(username) || username.includes('\u0000')) {
      return { ok: false, reason: 'bad-credentials' }
    }
    const digest = createHash('sha256').update(user.passwordHash).update('\u0000').update(text).digest()
    const known = this.verified.get(username)
    const ok =
      known !== undefined ? timingSafeEqual(known, digest) : await verifyPassword(text, user.passwordHash)
    if (!ok) return { ok: false, reason: 'bad-credentials' }
    this.verified.set(username, digest)
    return {
      ok: true,
      principal: {
        username,
        publish: user.publish.map((f) => compileFilter(f.replaceAll('%u', username), '\u0000')),
        subscribe: user.subscribe.map((f) => f.replaceAll('%u', username)),
      },
    }
  }

  static canPublish(principal: Principal, topic: string): boolean {
    return principal.publish === undefined || principal.publish.some((match) => match(topic) !== undefined)
  }

  static canSubscribe(principal: Principal, filter: string): boolean {
    return principal.subscribe.some((allowed) => filterCovers(allowed, filter))
  }
}

/** Whether every topic matched by `requested` is also matched by `allowed`. */
export function filterCovers(allowed: string, requested: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with "$".
  if (requested.startsWith('$') && (allowed.startsWith('+') || allowed.startsWith('#'))) return false
  const a = allowed.split('/')
  const r = requested.split('/')
  for (let i = 0; i < a.length; i++) {
    const al = a[i] as string
    if (al === '#') return true
    const rl = r[i]
    if (rl === undefined || rl === '#') return false
    if (al === '+') continue
    if (rl === '+' || al !== rl) return false
  }
  return a.length === r.length
}
