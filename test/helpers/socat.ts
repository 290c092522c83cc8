// Real pseudo-terminal pairs from Debian's socat, for serial tests: the gateway opens `device` (what a
// /dev/ttyUSB0 would be), the test or the simulator writes `host`. Unplug = stop socat (both ends hang
// up, the links go away); replug = start it again on the same link paths. Stopped by PID.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { RestartableChild } from '../../scripts/ci/restartable-child.js'
import { hasBinary, needs } from './needs.js'

export const haveSocat = (): boolean => needs('socat (apt-get install socat)', hasBinary('socat'))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class PtyPair {
  private readonly socat: RestartableChild

  private constructor(
    /** The end the gateway reads. */
    readonly device: string,
    /** The end the test or simulator writes. */
    readonly host: string,
  ) {
    this.socat = new RestartableChild('socat', [
      `pty,link=${device},raw,echo=0`,
      `pty,link=${host},raw,echo=0`,
    ])
  }

  /** Creates the pair `<dir>/<name>` (gateway side) and `<dir>/<name>.host`, plugged in. */
  static async start(dir: string, name: string): Promise<PtyPair> {
    const pair = new PtyPair(join(dir, name), join(dir, `${name}.host`))
    await pair.plug()
    return pair
  }

  get plugged(): boolean {
    return this.socat.running
  }

  async plug(timeoutMs = 5000): Promise<void> {
    const spawned = this.socat.spawn()
    if (!spawned) return
    const { process: child, stderr } = spawned
    // The links exist (and point at live ptys: existsSync follows them) once socat is ready.
    const by = performance.now() + timeoutMs
    while (!(existsSync(this.device) && existsSync(this.host))) {
      if (child.exitCode !== null) throw new Error(`socat exited: ${stderr()}`)
      if (performance.now() > by) throw new Error(`socat made no ptys within ${timeoutMs} ms: ${stderr()}`)
      await sleep(10)
    }
  }

  /** Unplug: SIGTERM (socat removes its links), or SIGKILL (they stay, dangling). */
  async unplug(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.socat.kill(signal)
  }
}
