// Runs Debian's mosquitto as a cloud MQTT broker for tests and benchmarks: its own config in a temp dir,
// a free loopback port, stopped by PID. mosquitto's defaults would make it a lossy sink (it queues at
// most 1,000 messages per offline client), so the queue limits are off here.
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { RestartableChild } from './restartable-child.js'

export interface MosquittoOptions {
  /** Directory for its config, persistence file and log. */
  dir: string
  /** Port to listen on; a free one is picked when omitted. Reuse it across restarts. */
  port?: number
  /** Keep sessions and queued messages across restarts (written on a clean stop). */
  persistence?: boolean
  /** Serve TLS on the listener (mqtts://); with requireCertificate, clients need a cert signed by cafile. */
  tls?: { certfile: string; keyfile: string; cafile?: string; requireCertificate?: boolean }
  /** Extra lines for mosquitto.conf. */
  extra?: string[]
}

export class Mosquitto {
  private readonly daemon: RestartableChild

  private constructor(
    readonly port: number,
    confFile: string,
    private readonly logFile: string,
    private readonly scheme: 'mqtt' | 'mqtts' = 'mqtt',
  ) {
    this.daemon = new RestartableChild('mosquitto', ['-c', confFile])
  }

  static async start(options: MosquittoOptions): Promise<Mosquitto> {
    mkdirSync(options.dir, { recursive: true })
    const port = options.port ?? (await freePort())
    const confFile = join(options.dir, 'mosquitto.conf')
    const logFile = join(options.dir, 'mosquitto.log')
    const lines = [
      `listener ${port} 127.0.0.1`,
      ...(options.tls
        ? [
            `certfile ${options.tls.certfile}`,
            `keyfile ${options.tls.keyfile}`,
            ...(options.tls.cafile ? [`cafile ${options.tls.cafile}`] : []),
            `require_certificate ${options.tls.requireCertificate ? 'true' : 'false'}`,
          ]
        : []),
      // Started as root, mosquitto switches to user "mosquitto", which cannot write our temp dir: its
      // persistence file and log would silently go nowhere.
      `user ${userInfo().username}`,
      'allow_anonymous true',
      'max_queued_messages 0',
      'max_queued_bytes 0',
      // 0 (unlimited) makes mosquitto 2.0 drain a reconnecting session's queue at ~500 msg/s; 1000 does not.
      'max_inflight_messages 1000',
      'max_keepalive 65535',
      `log_dest file ${logFile}`,
      'log_type error',
      'log_type warning',
      'log_type notice',
      ...(options.persistence
        ? [
            'persistence true',
            `persistence_location ${options.dir}/`,
            'autosave_interval 0',
            'persistent_client_expiration 1h',
          ]
        : []),
      ...(options.extra ?? []),
    ]
    writeFileSync(confFile, `${lines.join('\n')}\n`)
    const m = new Mosquitto(port, confFile, logFile, options.tls ? 'mqtts' : 'mqtt')
    await m.run()
    return m
  }

  get pid(): number | undefined {
    return this.daemon.pid
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.daemon.running
  }

  /** Starts it again on the same port (after stop/kill). */
  async run(): Promise<void> {
    const spawned = this.daemon.spawn()
    if (!spawned) return
    const { process: child, stderr } = spawned
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (err) => reject(new Error(`cannot run mosquitto: ${err.message}`))),
    )
    await Promise.race([
      waitForPort(this.port, 10_000, () => (child.exitCode !== null ? stderr() || 'exited' : undefined)),
      spawnError,
    ])
  }

  /** Clean stop (SIGTERM; with persistence it saves its database). */
  async stop(): Promise<void> {
    await this.daemon.kill('SIGTERM')
  }

  /** Hard kill (SIGKILL). */
  async kill(): Promise<void> {
    await this.daemon.kill('SIGKILL')
  }

  logPath(): string {
    return this.logFile
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  failed?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const reason = failed?.()
    if (reason !== undefined) throw new Error(`mosquitto exited: ${reason}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
