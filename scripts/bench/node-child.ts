// A Node child process for a benchmark (the gateway, a bare aedes, a publisher): started from the
// compiled dist/, its stdout read as JSON lines, stopped by its own PID and nothing else.
import { type ChildProcess, spawn } from 'node:child_process'

export interface JsonLine {
  msg?: string
  [key: string]: unknown
}

/** Lines kept for waitForLine and error messages; older ones are dropped (a chatty child stays bounded). */
const MAX_LINES = 1000
const STDERR_TAIL = 4000

export class NodeChild {
  readonly lines: JsonLine[] = []
  private stderrTail = ''
  private readonly exited: Promise<number | null>
  private readonly listeners = new Set<() => void>()

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    let buf = ''
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let line: JsonLine
        try {
          line = JSON.parse(text) as JsonLine
        } catch {
          line = { msg: text }
        }
        this.lines.push(line)
        if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES)
        for (const l of this.listeners) l()
      }
    })
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL)
    })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    // A spawn failure (no such file) surfaces as 'error' then 'exit'; waiters report it via describe().
    child.once('error', (err) => {
      this.stderrTail += `\nspawn failed: ${err.message}`
    })
  }

  /** Runs `node [nodeArgs] script [args]`. */
  static start(label: string, script: string, args: string[] = [], nodeArgs: string[] = []): NodeChild {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new NodeChild(label, child)
  }

  get pid(): number {
    return this.child.pid as number
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** What the child said last, for error messages. */
  describe(): string {
    const last = this.lines
      .slice(-5)
      .map((l) => JSON.stringify(l))
      .join('\n')
    const status = this.running ? 'running' : `exited (${this.child.exitCode ?? this.child.signalCode})`
    return `${this.label} ${status}; last lines:\n${last}\nstderr:\n${this.stderrTail}`
  }

  /** Resolves with the first stdout line that matches; rejects on timeout or when the child exits. */
  waitForLine(match: (line: JsonLine) => boolean, timeoutMs: number): Promise<JsonLine> {
    const found = this.lines.find(match)
    if (found) return Promise.resolve(found)
    if (!this.running) return Promise.reject(new Error(this.describe()))
    return new Promise((resolve, reject) => {
      const done = (err: Error | undefined, line?: JsonLine) => {
        clearTimeout(timer)
        this.listeners.delete(check)
        this.child.removeListener('exit', onExit)
        if (err) reject(err)
        else resolve(line as JsonLine)
      }
      const timer = setTimeout(
        () => done(new Error(`no expected output within ${timeoutMs} ms: ${this.describe()}`)),
        timeoutMs,
      )
      // 'exit' may come before the last stdout chunk: give the pipe a moment to drain.
      const onExit = () => setTimeout(() => done(new Error(this.describe())), 50)
      const check = () => {
        const line = this.lines.find(match)
        if (line) done(undefined, line)
      }
      this.listeners.add(check)
      this.child.once('exit', onExit)
    })
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. Idempotent. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM')
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL')
    }, timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  waitExit(): Promise<number | null> {
    return this.exited
  }
}
