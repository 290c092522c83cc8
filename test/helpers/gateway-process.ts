// Runs the real `outpost start` (the compiled dist/, as shipped) as a child process with a config
// written to a temp dir, and reads its JSON log lines.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { GatewayStatus } from '../../gateway/gateway.js'

export const CLI = fileURLToPath(new URL('../../dist/gateway/cli.js', import.meta.url))

export interface LogLine {
  level: string
  msg: string
  [key: string]: unknown
}

export class GatewayProcess {
  readonly logs: LogLine[] = []
  private readonly exited: Promise<number | null>
  private stderr = ''
  private listeners = new Set<() => void>()

  private constructor(
    readonly child: ChildProcess,
    readonly configFile: string,
  ) {
    let buf = ''
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          this.logs.push(JSON.parse(line) as LogLine)
        } catch {
          this.logs.push({ level: 'raw', msg: line })
        }
        for (const l of this.listeners) l()
        nl = buf.indexOf('\n')
      }
    })
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString()
    })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }

  /** Writes `config` (an object; JSON is YAML) to `dir/gateway.yaml` and starts the gateway on it. */
  static async start(
    dir: string,
    config: Record<string, unknown>,
    env: NodeJS.ProcessEnv = {},
  ): Promise<GatewayProcess> {
    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(configFile, JSON.stringify(config, null, 2))
    return GatewayProcess.startFile(configFile, env)
  }

  static async startFile(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
    return GatewayProcess.startArgs(['start', '--config', configFile], { env })
  }

  /** `node dist/gateway/cli.js ARGS` (e.g. `start` with no --config, from another `cwd`). */
  static async startArgs(
    args: string[],
    options: {
      env?: NodeJS.ProcessEnv
      cwd?: string
      /** The program and its arguments before the CLI script (default: this node). */
      command?: string[]
      /** How long to wait for "gateway started" (default 60 s). */
      timeoutMs?: number
    } = {},
  ): Promise<GatewayProcess> {
    const [cmd, ...pre] = options.command ?? [process.execPath]
    const child = spawn(cmd as string, [...pre, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
    })
    const gw = new GatewayProcess(child, args[args.indexOf('--config') + 1] ?? '')
    await gw.waitForLog((l) => l.msg === 'gateway started', options.timeoutMs ?? 60_000)
    return gw
  }

  get pid(): number {
    return this.child.pid as number
  }

  /** Port of the first broker listener. */
  get port(): number {
    const line = this.logs.find((l) => l.msg === 'listening')
    if (!line) throw new Error('gateway has not logged a listener')
    return line.port as number
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  /** GET /api/status (the config must enable http, e.g. on port 0). */
  async status(): Promise<GatewayStatus> {
    const line = this.logs.find((l) => l.msg === 'http listening')
    if (!line) throw new Error('gateway has no http listener (enable http in its config)')
    const res = await fetch(`http://127.0.0.1:${line.port as number}/api/status`)
    return (await res.json()) as GatewayStatus
  }

  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const found = this.logs.find(match)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check)
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`))
      }, timeoutMs)
      const onExit = () => {
        clearTimeout(timer)
        this.listeners.delete(check)
        reject(new Error(`gateway exited (${this.child.exitCode}); stderr: ${this.stderr.slice(-2000)}`))
      }
      const check = () => {
        const line = this.logs.find(match)
        if (line) {
          clearTimeout(timer)
          this.listeners.delete(check)
          this.child.removeListener('exit', onExit)
          resolve(line)
        }
      }
      this.listeners.add(check)
      this.child.once('exit', onExit)
    })
  }

  /** SIGKILL: no shutdown code runs. */
  async kill9(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM and the exit status. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  waitExit(): Promise<number | null> {
    return this.exited
  }
}
