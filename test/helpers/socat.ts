// Real pseudo-terminal pairs from Debian's socat, for serial tests: the gateway opens `device` (what a
// /dev/ttyUSB0 would be), the test or the simulator writes `host`. Unplug = stop socat (both ends hang
// up, the links go away); replug = start it again on the same link paths. Stopped by PID.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { hasBinary, needs } from './needs.js'

export const haveSocat = (): boolean => needs('socat (apt-get install socat)', hasBinary('socat'))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class PtyPair {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()

  private constructor(
    /** The end the gateway reads. */
    readonly device: string,
    /** The end the test or simulator writes. */
    readonly host: string,
  ) {}

  /** Creates the pair `<dir>/<name>` (gateway side) and `<dir>/<name>.host`, plugged in. */
  static async start(dir: string, name: string): Promise<PtyPair> {
    const pair = new PtyPair(join(dir, name), join(dir, `${name}.host`))
    await pair.plug()
    return pair
  }

  get plugged(): boolean {
    return this.child !== undefined
  }

  async plug(timeoutMs = 5000): Promise<void> {
    if (this.child) return
    const child = spawn('socat', [`pty,link=${this.device},raw,echo=0`, `pty,link=${this.host},raw,echo=0`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    this.child = child
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined
        resolve()
      }),
    )
    // The links exist (and point at live ptys: existsSync follows them) once socat is ready.
    const by = performance.now() + timeoutMs
    while (!(existsSync(this.device) && existsSync(this.host))) {
      if (child.exitCode !== null) throw new Error(`socat exited: ${stderr}`)
      if (performance.now() > by) throw new Error(`socat made no ptys within ${timeoutMs} ms: ${stderr}`)
      await sleep(10)
    }
  }

  /** Unplug: SIGTERM (socat removes its links), or SIGKILL (they stay, dangling). */
  async unplug(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill(signal)
    await this.exited
  }
}
