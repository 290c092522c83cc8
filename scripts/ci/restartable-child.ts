// A daemon that tests stop and start again (mosquitto, socat): one process at a time, what it writes to
// stderr kept to say why it died, and a stop that resolves once it has exited. `running` turns false
// when the process exits, whoever ended it.
import { type ChildProcess, spawn } from 'node:child_process'

export interface SpawnedChild {
  process: ChildProcess
  /** What this process has written to stderr so far. */
  stderr(): string
}

export class RestartableChild {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()

  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Starts the process unless one is running (then undefined); stdout is ignored. */
  spawn(): SpawnedChild | undefined {
    if (this.child) return undefined
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'ignore', 'pipe'] })
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
    return { process: child, stderr: () => stderr }
  }

  /** Sends `signal` to the running process and waits until it has exited; nothing if none runs. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill(signal)
    await this.exited
  }
}
