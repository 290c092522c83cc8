// Runs the compiled `outpost` command (dist/gateway/cli.js, as shipped) as a real child process and
// collects what it printed and how it exited. `npm test` builds dist/ first.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CLI_JS = fileURLToPath(new URL('../../dist/gateway/cli.js', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunCliOptions {
  /** Written to the child's stdin, which is then closed (stdin is an empty pipe otherwise). */
  input?: string | Uint8Array
  /** The child's whole environment (default: this process's, without the secrets the example uses). */
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** The child is SIGKILLed after this long (the result then has signal SIGKILL). */
  timeoutMs?: number
}

/** This process's environment minus the variables the example config refers to. */
export function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of ['CLOUD_PASSWORD', 'KAFKA_PASSWORD', ...names]) delete env[name]
  return env
}

export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_JS, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? envWithout(),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    stdout += d
  })
  child.stderr.on('data', (d: string) => {
    stderr += d
  })
  // A child that exits before reading its stdin makes the write fail with EPIPE: that is its business.
  child.stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') stderr += `\n[test harness] stdin: ${err.message}`
  })
  child.stdin.end(options.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
