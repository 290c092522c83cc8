// A TCP proxy on 127.0.0.1 in front of a broker, to cut a gateway's uplink while the broker stays up
// (stopping the broker would also stop whoever publishes to it). While cut, open connections are
// destroyed and new ones are closed at once. A tap sees the bytes a client sends to the broker (e.g.
// to tell whether a PUBACK went upstream). The demo's uplink (scripts/demo) and the tests
// (test/helpers/tcp-proxy.ts) both use it.
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface TcpProxyOptions {
  /** Called with every chunk a client sends towards the broker; `connection` counts from 1. */
  onClientData?: (connection: number, chunk: Buffer) => void
}

export class TcpProxy {
  private readonly sockets = new Set<Socket>()
  private cutOff = false
  private connections = 0

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: TcpProxyOptions,
  ) {}

  static async start(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = createServer((inbound) => proxy?.accept(inbound, targetPort))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy has no port')
    proxy = new TcpProxy(server, address.port, options)
    return proxy
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  /** Drops every connection through the proxy and refuses new ones until restore(). */
  cut(): void {
    this.cutOff = true
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  restore(): void {
    this.cutOff = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(inbound: Socket, targetPort: number): void {
    if (this.cutOff) {
      inbound.destroy()
      return
    }
    const outbound = connect(targetPort, '127.0.0.1')
    const connection = ++this.connections
    const tap = this.options.onClientData
    if (tap) inbound.on('data', (chunk: Buffer) => tap(connection, chunk))
    for (const [a, b] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      this.sockets.add(a)
      a.pipe(b)
      a.on('error', () => b.destroy()) // a reset on one side ends the other: that is the cut
      a.on('close', () => {
        this.sockets.delete(a)
        b.destroy()
      })
    }
  }
}
