// A plain TCP connection to a broker for tests that speak raw bytes: what it writes goes out verbatim,
// everything it receives is kept, and a test can wait (bounded) for a byte count or for the close.
import { connect, type Socket } from 'node:net'

export class RawSocket {
  received: Buffer = Buffer.alloc(0)
  private closedFlag = false
  readonly closed: Promise<void>
  private readonly waiters = new Set<() => void>()

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d])
      this.notify()
    })
    // A reset after the broker closes on us is expected; the close that follows is what tests observe.
    socket.on('error', () => this.notify())
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true
        this.notify()
        resolve()
      }),
    )
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawSocket> {
    const socket = connect({ port, host, noDelay: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('error', reject)
    })
    return new RawSocket(socket)
  }

  get isClosed(): boolean {
    return this.closedFlag
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes)
  }

  /** Resolves true once `n` bytes arrived, false if the connection closed first or `timeoutMs` passed. */
  waitBytes(n: number, timeoutMs = 5000): Promise<boolean> {
    return this.waitFor(() => this.received.length >= n, timeoutMs)
  }

  /** Resolves true once the broker closed the connection, false after `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<boolean> {
    return this.waitFor(() => this.closedFlag, timeoutMs)
  }

  destroy(): Promise<void> {
    this.socket.destroy()
    return this.closed
  }

  private waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(value)
      }
      const timer = setTimeout(() => finish(done()), timeoutMs)
      const check = () => {
        if (done()) finish(true)
        else if (this.closedFlag) finish(false)
      }
      this.waiters.add(check)
    })
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }
}
