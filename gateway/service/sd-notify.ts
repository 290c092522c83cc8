// The systemd notify protocol (sd_notify(3)): newline-separated VAR=value assignments in one datagram to
// the AF_UNIX socket in $NOTIFY_SOCKET. Node cannot send AF_UNIX datagrams (node:dgram is UDP only) and
// a native addon would need a compiler or a prebuild on every Pi, so each message is handed to
// `systemd-notify`, which ships with systemd itself: wherever NOTIFY_SOCKET is set, it is there.
// It sends from its own PID, so the unit says NotifyAccess=all; since systemd 246 it waits until the
// manager has read the message (BARRIER=1), so its exit cannot race the message (the old
// "cannot find unit for notify message" drop). Measured: 4-7 ms of wall time per message on the 2-core
// development VM; at one watchdog ping every 15 s that is noise. The event loop never waits for it.
import { spawn } from 'node:child_process'
import type { Logger } from '../logger.js'

export interface SdNotifyOptions {
  /** NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID come from here (and the helper's PATH). */
  env: NodeJS.ProcessEnv
  logger: Logger
  /** The program that sends one message (default: systemd-notify on PATH). */
  command?: string
  /** A helper still running after this long is killed (systemd-notify's own barrier gives up at 5 s). */
  timeoutMs?: number
  /** This process's PID (WATCHDOG_PID names the process the watchdog is meant for). */
  pid?: number
}

export class SdNotify {
  private failed = false
  private readonly command: string
  private readonly timeoutMs: number

  private constructor(private readonly opts: SdNotifyOptions) {
    this.command = opts.command ?? 'systemd-notify'
    this.timeoutMs = opts.timeoutMs ?? 10_000
  }

  /** Undefined when not started by systemd with Type=notify (no NOTIFY_SOCKET). */
  static fromEnv(opts: SdNotifyOptions): SdNotify | undefined {
    return opts.env.NOTIFY_SOCKET ? new SdNotify(opts) : undefined
  }

  /**
   * Half of WATCHDOG_USEC in ms (sd_watchdog_enabled(3): ping at half the timeout), or undefined when no
   * watchdog is asked for this process.
   */
  get watchdogIntervalMs(): number | undefined {
    const usec = Number(this.opts.env.WATCHDOG_USEC)
    if (!Number.isFinite(usec) || usec <= 0) return undefined
    const pid = this.opts.env.WATCHDOG_PID
    if (pid !== undefined && pid !== '' && Number(pid) !== (this.opts.pid ?? process.pid)) return undefined
    return Math.max(1, Math.floor(usec / 2000))
  }

  /** Sends `fields` (e.g. ["READY=1", "STATUS=…"]) as one message; resolves when the helper is done. */
  send(fields: readonly string[]): Promise<void> {
    return new Promise<void>((resolve) => {
      const child = spawn(this.command, [...fields], {
        env: this.opts.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr?.setEncoding('utf8')
      child.stderr?.on('data', (d: string) => {
        if (stderr.length < 2000) stderr += d
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs)
      const done = (problem: string | undefined) => {
        clearTimeout(timer)
        if (problem !== undefined) this.warnOnce(problem, fields)
        resolve()
      }
      child.once('error', (err) => done(`cannot run ${this.command}: ${err.message}`))
      child.once('close', (code, signal) => {
        if (code === 0) done(undefined)
        else done(`${this.command} ${signal ? `killed by ${signal}` : `exited ${code}`}: ${stderr.trim()}`)
      })
    })
  }

  /** The first failure is a warning; after that they are debug lines (a watchdog ping fails often). */
  private warnOnce(problem: string, fields: readonly string[]): void {
    const log = this.opts.logger
    if (this.failed) {
      log.debug({ fields, problem }, 'systemd notification failed')
      return
    }
    this.failed = true
    log.warn(
      { fields, problem },
      'systemd notification failed (NOTIFY_SOCKET is set: is systemd-notify installed?)',
    )
  }
}
