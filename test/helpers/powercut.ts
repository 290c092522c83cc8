// A directory that can lose power: test/fixtures/powercut-fs.py (FUSE, Python fusepy) mounted over a
// backing directory. File data written through the mount reaches the backing directory only when the
// file is fsync'd; cut() SIGKILLs the filesystem process, so what was not fsync'd is gone, as after a
// power cut, and unmounts it. The backing directory then holds what a disk could have kept.
//
// Needs root (mount), /dev/fuse, and a Python with fusepy (Debian: apt-get install python3-fusepy).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FS_SCRIPT = fileURLToPath(new URL('../fixtures/powercut-fs.py', import.meta.url))

/** A Python that can import fusepy (Debian installs it as `fusepy`, PyPI as `fuse`), or undefined. */
function pythonWithFusepy(): string | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(python, ['-c', 'try:\n import fuse\nexcept ImportError:\n import fusepy'], {
        stdio: 'ignore',
        timeout: 10_000,
      })
      return python
    } catch {
      // not this one
    }
  }
  return undefined
}

/** Why power cuts cannot be simulated here, or undefined when they can. */
export function powerCutUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'Linux (FUSE)'
  if (process.getuid?.() !== 0) return 'root (to mount a FUSE filesystem)'
  if (!existsSync('/dev/fuse')) return '/dev/fuse'
  if (pythonWithFusepy() === undefined) return 'Python fusepy (apt-get install python3-fusepy)'
  return undefined
}

function mounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir)
}

export class PowerCutDir {
  private exited: Promise<void>

  private constructor(
    private readonly proc: ChildProcess,
    /** Where the filesystem is mounted: the directory to give the code under test. */
    readonly mountpoint: string,
    /** What survives a cut: open it here after cut(). */
    readonly backing: string,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()))
  }

  /** Mounts the filesystem at `root/mnt` over `root/backing` (created if needed; kept across mounts). */
  static async mount(root: string): Promise<PowerCutDir> {
    const python = pythonWithFusepy()
    if (!python) throw new Error('no Python with fusepy')
    const backing = join(root, 'backing')
    const mountpoint = join(root, 'mnt')
    mkdirSync(backing, { recursive: true })
    mkdirSync(mountpoint, { recursive: true })
    const proc = spawn(python, [FS_SCRIPT, backing, mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    proc.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 16 * 1024) stderr += d.toString()
    })
    const dir = new PowerCutDir(proc, mountpoint, backing)
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      proc.once('exit', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    if (!ready || !mounted(mountpoint)) {
      await dir.cut()
      throw new Error(`powercut-fs did not mount ${mountpoint}: ${stderr}`)
    }
    return dir
  }

  /** The power cut: the filesystem process dies with everything not fsync'd, and the mount goes. */
  async cut(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
    await this.exited
    if (mounted(this.mountpoint)) execFileSync('umount', ['-l', this.mountpoint], { stdio: 'pipe' })
  }
}
