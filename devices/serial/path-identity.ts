// Which device a path names right now. serialport does not always notice a pty's other end going away
// (a hung-up tty can read 0 bytes forever, which it retries), and a USB adapter replugged fast comes
// back on the same path: the adapter compares this identity every few hundred ms while the port is open.
// ctime is part of it because a new pty can reuse the old one's number (same dev, ino and rdev) — and a
// tty's ctime does not move when data flows (its mtime does). A udev rule that chmods a node just after
// the adapter opened it moves its ctime too: that costs one needless reopen, logged.
import { stat } from 'node:fs/promises'

/** dev:ino:rdev:ctime of what the path (through symlinks) names; undefined when nothing is there. */
export async function pathIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path)
    return `${s.dev}:${s.ino}:${s.rdev}:${s.ctimeMs}`
  } catch {
    return undefined // ENOENT, a dangling by-id link, EACCES on a parent: all "not there" for a reader
  }
}
