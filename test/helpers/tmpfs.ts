// A small tmpfs for disk-full tests (needs root). Free space is read with statfs, like the outbox does.
import { execFileSync } from 'node:child_process'
import { statfsSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** Mounts a tmpfs of `size` (mount(8) syntax, e.g. '8m') on `dir`; returns false when that is not possible. */
export function mountTmpfs(dir: string, size: string): boolean {
  if (process.platform !== 'linux') return false
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
}

/** Unmounts `dir`; falls back to a lazy unmount if something still holds a file open there. */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  }
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

/** Writes a file of real (non-sparse) blocks so that about `leaveFree` bytes stay free on the filesystem. */
export function fillUntilFree(path: string, leaveFree: number): number {
  const size = Math.max(0, freeBytes(dirname(path)) - leaveFree)
  writeFileSync(path, Buffer.alloc(size, 0xa5))
  return size
}
