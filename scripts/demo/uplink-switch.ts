// The demo's uplink: a TCP relay between the gateway and the cloud that can be cut (every connection
// dropped, new ones refused) and restored, while both ends keep running.
import { connect, createServer, type Server, type Socket } from 'node:net'

export class UplinkSwitch {
  private readonly sockets = new Set<Socket>()
  private down = false

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<UplinkSwitch> {
    let relay: UplinkSwitch | undefined
    const server = createServer((inbound) => relay?.accept(inbound, targetPort))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const address = server.address()
    relay = new UplinkSwitch(server, typeof address === 'object' && address ? address.port : 0)
    return relay
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  cut(): void {
    this.down = true
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  restore(): void {
    this.down = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(inbound: Socket, targetPort: number): void {
    if (this.down) {
      inbound.destroy()
      return
    }
    const outbound = connect(targetPort, '127.0.0.1')
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
