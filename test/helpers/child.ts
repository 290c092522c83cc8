// A real child process whose stdout is collected line by line, for crash tests: wait until it has
// printed enough, then SIGKILL it and wait until it is gone.
import { type ChildProcess, spawn } from 'node:child_process'

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface LineChild {
  readonly proc: ChildProcess
  /** Complete stdout lines so far (a trailing partial line is not included). */
  readonly lines: string[]
  stderr(): string
  /** Resolves true once `count` lines were printed; false when the child exits or `timeoutMs` passes first. */
  waitForLines(count: number, timeoutMs: number): Promise<boolean>
  /** SIGKILLs the child (if still running) and resolves once it has exited and its pipes are drained. */
  kill9(): Promise<ChildExit>
}

export function spawnLines(command: string, args: readonly string[]): LineChild {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let partial = ''
  let err = ''
  let onChange: (() => void) | undefined
  proc.stdout?.setEncoding('utf8')
  proc.stderr?.setEncoding('utf8')
  proc.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    onChange?.()
  })
  proc.stderr?.on('data', (chunk: string) => {
    if (err.length < 64 * 1024) err += chunk
  })
  const closed = new Promise<ChildExit>((resolve) => {
    proc.on('close', (code, signal) => {
      onChange?.()
      resolve({ code, signal })
    })
  })
  let exited = false
  void closed.then(() => {
    exited = true
  })

  return {
    proc,
    lines,
    stderr: () => err,
    waitForLines(count, timeoutMs) {
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer)
          onChange = undefined
          resolve(ok)
        }
        const timer = setTimeout(() => done(false), timeoutMs)
        onChange = () => {
          if (lines.length >= count) done(true)
          else if (exited || proc.exitCode !== null || proc.signalCode !== null) done(false)
        }
        onChange()
      })
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      return closed
    },
  }
}
