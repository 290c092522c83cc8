// Password hashes for broker users: scrypt, stored as one line `scrypt$N$r$p$salt$hash` (base64),
// produced by `outpost passwd USER`. Verification is constant-time.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'

const N = 16384
const R = 8
const P = 1
const KEY_BYTES = 32

function scrypt(
  password: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
  keylen: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, { N: n, r, p, maxmem: 256 * n * r + 2 ** 20 }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, N, R, P, KEY_BYTES)
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyPassword(password: string, hashLine: string): Promise<boolean> {
  const parts = hashLine.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  // Bounded so a hand-edited line cannot make a Pi allocate gigabytes: N a power of two up to 2^20
  // (128 MiB at r = 8 … 1 GiB at r = 64 would be too much), r ≤ 32, p ≤ 16.
  const powerOfTwo = Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0
  if (
    !powerOfTwo ||
    n > 2 ** 20 ||
    !Number.isInteger(r) ||
    r < 1 ||
    r > 32 ||
    !Number.isInteger(p) ||
    p < 1 ||
    p > 16
  ) {
    return false
  }
  if (128 * n * r > 256 * 2 ** 20) return false
  const salt = Buffer.from(parts[4] as string, 'base64')
  const expected = Buffer.from(parts[5] as string, 'base64')
  if (expected.length === 0 || expected.length > 256) return false
  try {
    const key = await scrypt(password, salt, n, r, p, expected.length)
    return timingSafeEqual(key, expected)
  } catch {
    return false // parameters scrypt refuses: a bad hash line never matches
  }
}
