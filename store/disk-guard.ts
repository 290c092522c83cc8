// Keeps the outbox from running the disk dry, and leaves it a way back when the disk fills anyway.
//
// Two measures:
// - Free space is read with statfs at most once a second (and estimated in between from the bytes
//   written); below minFreeDiskBytes the outbox refuses appends as "full (disk)" instead of letting
//   LevelDB hit ENOSPC.
// - A reserve file of reserveBytes sits in the data dir. LevelDB cannot even reopen on a full disk
//   (recovery writes a table file; measured here: "Database failed to open … No space left on
//   device"), so when a write fails with ENOSPC the reserve is deleted to give recovery room, and
//   re-created once the disk has space again.
import { open, stat, statfs, unlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface DiskGuardOptions {
  dir: string
  minFreeBytes: number
  reserveBytes: number
  /** How often statfs is called while writes happen. */
  refreshMs?: number
}

export class DiskGuard {
  private freeBytes = Number.POSITIVE_INFINITY
  private writtenSinceCheck = 0
  private lastCheck = 0
  private checking: Promise<void> | undefined
  private readonly refreshMs: number
  readonly reservePath: string

  constructor(private readonly opts: DiskGuardOptions) {
    this.refreshMs = opts.refreshMs ?? 1000
    this.reservePath = join(opts.dir, 'reserve.bin')
  }

  /** Estimated free bytes (statfs minus what was written since). */
  get free(): number {
    return this.freeBytes - this.writtenSinceCheck
  }

  /** True when an append of `bytes` would take free space below the minimum. */
  wouldRunLow(bytes: number): boolean {
    return this.opts.minFreeBytes > 0 && this.free - bytes < this.opts.minFreeBytes
  }

  noteWritten(bytes: number, now: number): void {
    this.writtenSinceCheck += bytes
    if (now - this.lastCheck >= this.refreshMs) void this.refresh(now)
  }

  refresh(now: number = Date.now()): Promise<void> {
    if (this.checking) return this.checking
    this.lastCheck = now
    this.checking = statfs(this.opts.dir)
      .then((s) => {
        this.freeBytes = s.bavail * s.bsize
        this.writtenSinceCheck = 0
      })
      .catch(() => {
        // statfs unsupported (or the dir vanished): the guard stays off rather than refusing writes.
        this.freeBytes = Number.POSITIVE_INFINITY
      })
      .finally(() => {
        this.checking = undefined
      })
    return this.checking
  }

  /** Creates the reserve file if it is missing and the disk has room for it. Returns whether it exists. */
  async ensureReserve(): Promise<boolean> {
    const size = this.opts.reserveBytes
    if (size <= 0) return false
    try {
      const s = await stat(this.reservePath)
      if (s.size >= size) return true
    } catch {
      // missing: create below
    }
    await this.refresh()
    if (this.free < size + this.opts.minFreeBytes) return false
    const fh = await open(this.reservePath, 'w')
    try {
      // Real blocks, not a sparse file: a sparse file frees nothing when deleted.
      const chunk = Buffer.alloc(Math.min(size, 1 << 20))
      for (let written = 0; written < size; written += chunk.length) {
        await fh.write(chunk, 0, Math.min(chunk.length, size - written))
      }
      await fh.sync()
    } catch (err) {
      await fh.close()
      await unlink(this.reservePath).catch(() => undefined)
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return false
      throw err
    }
    await fh.close()
    return true
  }

  /** Deletes the reserve file; returns the bytes given back (0 if there was none). */
  async releaseReserve(): Promise<number> {
    try {
      const s = await stat(this.reservePath)
      await unlink(this.reservePath)
      return s.size
    } catch {
      return 0
    }
  }
}
