// The HTTP side: the status page at / (status-page.ts), /healthz (the process answers), /readyz
// (listening and the outbox accepts writes), /api/status (a JSON snapshot) and /metrics (Prometheus,
// rendered from the same snapshot at scrape time: nothing is counted for it on the hot path). It reads
// status() snapshots only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { GatewayStatus } from '../gateway.js'
import type { Logger } from '../logger.js'
import { renderMetrics } from './metrics.js'
import { STATUS_PAGE_HTML } from './status-page.js'

/** The page fetches /api/status from its own origin and loads nothing else. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
}

export interface HttpServerOptions {
  host: string
  port: number
  status: () => Promise<GatewayStatus>
  logger: Logger
}

export class HttpServer {
  private server: Server | undefined
  port = 0

  constructor(private readonly opts: HttpServerOptions) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.warn({ err, url: req.url }, 'http request failed')
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
        res.end('internal error\n')
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.port, this.opts.host, () => {
        server.removeListener('error', reject)
        resolve()
      })
    })
    this.server = server
    this.port = (server.address() as AddressInfo).port
    this.opts.logger.info({ host: this.opts.host, port: this.port }, 'http listening')
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    switch (path) {
      case '/':
        res.writeHead(200, PAGE_HEADERS).end(STATUS_PAGE_HTML)
        return
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
        return
      case '/readyz': {
        const s = await this.opts.status()
        const problems = [
          ...(s.listeners.length === 0 ? ['broker not listening'] : []),
          ...(s.outbox.state !== 'ok' ? [`outbox ${s.outbox.state}`] : []),
        ]
        res
          .writeHead(problems.length ? 503 : 200, { 'content-type': 'application/json' })
          .end(`${JSON.stringify({ ready: problems.length === 0, problems })}\n`)
        return
      }
      case '/api/status':
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(await this.opts.status())}\n`)
        return
      case '/metrics':
        res
          .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
          .end(renderMetrics(await this.opts.status()))
        return
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  }
}
