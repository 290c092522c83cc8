// The real gateway for a benchmark: `node dist/gateway/cli.js start --config FILE` as a child process,
// with a YAML config written to a temp dir, ready once GET /readyz answers 200.
//
// At log level warn the gateway does not log its ports ('listening' and 'http listening' are info
// lines), so both ports are picked free beforehand and the start is retried if one was taken meanwhile.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import type { GatewayStatus } from '../../gateway/gateway.js'
import { freePort } from '../ci/mosquitto.js'
import { NodeChild } from './node-child.js'

export const CLI = fileURLToPath(new URL('../../gateway/cli.js', import.meta.url))

export interface GatewayUpstream {
  url: string
  /** The forwarder's window (maxInflight). */
  maxInflight: number
}

export interface GatewayChildOptions {
  /** Where the config file goes. */
  dir: string
  dataDir: string
  /** Default "bench". */
  gatewayId?: string
  durability: 'fsync' | 'batch' | 'none'
  /** outbox.commitDelayMs (fsync mode). */
  commitDelayMs?: number
  /** More outbox keys (leveldb sizes, …), merged into the outbox section. */
  outbox?: Record<string, unknown>
  upstream?: GatewayUpstream
  /** Upstreams and routes as written in the config (e.g. a Kafka upstream), in place of `upstream`. */
  upstreams?: Record<string, unknown>[]
  routes?: Record<string, unknown>[]
  logLevel?: 'warn' | 'info' | 'error'
  /** More broker keys (limits, maxPendingBytes, …), merged into the broker section. */
  broker?: Record<string, unknown>
  /** Extra arguments for node itself (e.g. --cpu-prof --cpu-prof-dir DIR). */
  nodeArgs?: string[]
  readyTimeoutMs?: number
}

const START_ATTEMPTS = 3

/** Node arguments for the gateway child from the --cpu-prof DIR and --gateway-node-args ARGS flags. */
export function gatewayNodeArgs(flags: Map<string, string>): string[] {
  const dir = flags.get('cpu-prof')
  const extra = (flags.get('gateway-node-args') ?? '').split(/\s+/).filter((a) => a !== '')
  return [...(dir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', dir]), ...extra]
}

export class GatewayChild {
  private constructor(
    private readonly child: NodeChild,
    /** MQTT listener port. */
    readonly port: number,
    readonly httpPort: number,
  ) {}

  static async start(opts: GatewayChildOptions): Promise<GatewayChild> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const httpPort = await freePort()
      const configFile = join(opts.dir, 'gateway.yaml')
      writeFileSync(configFile, stringify(gatewayConfig(opts, port, httpPort)))
      const child = NodeChild.start('gateway', CLI, ['start', '--config', configFile], opts.nodeArgs)
      const gw = new GatewayChild(child, port, httpPort)
      try {
        await gw.waitReady(opts.readyTimeoutMs ?? 20_000)
        return gw
      } catch (err) {
        await child.stop(2000)
        const taken = child.lines.some((l) => JSON.stringify(l).includes('EADDRINUSE'))
        if (!taken || attempt >= START_ATTEMPTS) throw err
      }
    }
  }

  get pid(): number {
    return this.child.pid
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.child.running
  }

  /** GET /api/status. */
  async status(): Promise<GatewayStatus> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/api/status`, {
      signal: AbortSignal.timeout(10_000),
    })
    if (res.status !== 200) throw new Error(`GET /api/status: HTTP ${res.status}`)
    return (await res.json()) as GatewayStatus
  }

  /** Graceful stop (SIGTERM: the gateway flushes and closes its outbox); SIGKILL after `timeoutMs`. */
  stop(timeoutMs = 20_000): Promise<number | null> {
    return this.child.stop(timeoutMs)
  }

  describe(): string {
    return this.child.describe()
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!this.child.running) throw new Error(`gateway did not start: ${this.child.describe()}`)
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`, {
          signal: AbortSignal.timeout(1000),
        })
        await res.arrayBuffer()
        if (res.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`gateway not ready after ${timeoutMs} ms: ${this.child.describe()}`)
      }
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

function gatewayConfig(opts: GatewayChildOptions, port: number, httpPort: number): Record<string, unknown> {
  return {
    gatewayId: opts.gatewayId ?? 'bench',
    dataDir: opts.dataDir,
    log: { level: opts.logLevel ?? 'warn' },
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }], allowAnonymous: true, ...opts.broker },
    outbox: { durability: opts.durability, commitDelayMs: opts.commitDelayMs ?? 0, ...opts.outbox },
    upstreams:
      opts.upstreams ??
      (opts.upstream
        ? [
            {
              name: 'cloud',
              type: 'mqtt',
              url: opts.upstream.url,
              maxInflight: opts.upstream.maxInflight,
              // Short backoff: the benchmark starts the upstream while the gateway is waiting for it.
              reconnect: { minMs: 100, maxMs: 200 },
              connectTimeoutMs: 2000,
            },
          ]
        : []),
    ...(opts.routes ? { routes: opts.routes } : {}),
    http: { enabled: true, host: '127.0.0.1', port: httpPort },
  }
}
