// Writes a simulated serial device's bytes to a tty (the "host" end of a socat pty pair, or a real port
// looped back), through serialport: writes never block the event loop — when the reader stops reading,
// bytes wait in a bounded queue and what does not fit is dropped and counted, so a stalled reader
// cannot hang a test. The port is reopened when it goes away (a demo's unplug and replug).
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialPort } from 'serialport'

export interface PtyWriterOptions {
  baudRate?: number
  /** Bytes waiting to be written, at most; a frame that does not fit is dropped. */
  maxBufferedBytes?: number
  /** How long open() keeps trying before it gives up. */
  openTimeoutMs?: number
  /** Delay between reopen attempts after the port went away. */
  retryMs?: number
}

export interface PtyWriterStats {
  frames: number
  bytes: number
  dropped: number
  opens: number
}

export class PtyWriter {
  readonly stats: PtyWriterStats = { frames: 0, bytes: 0, dropped: 0, opens: 0 }
  private port: SerialPort | undefined
  private closed = false
  private reopening: Promise<void> | undefined

  private constructor(
    readonly path: string,
    private readonly options: PtyWriterOptions,
  ) {}

  /** Opens `path` (retrying until openTimeoutMs: the pty may be about to appear). */
  static async open(path: string, options: PtyWriterOptions = {}): Promise<PtyWriter> {
    const writer = new PtyWriter(path, options)
    const by = performance.now() + (options.openTimeoutMs ?? 5000)
    for (;;) {
      try {
        await writer.openOnce()
        return writer
      } catch (err) {
        if (performance.now() > by) throw err
        await sleep(options.retryMs ?? 50)
      }
    }
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true
  }

  /** Queues a frame; false (and counted as dropped) while the port is away or its queue is full. */
  write(frame: Buffer): boolean {
    const port = this.port
    const max = this.options.maxBufferedBytes ?? 1 << 20
    if (!port?.isOpen || port.writableLength + frame.length > max) {
      this.stats.dropped++
      return false
    }
    port.write(frame)
    this.stats.frames++
    this.stats.bytes += frame.length
    return true
  }

  /** Waits until queued bytes are written (at most timeoutMs: a stalled reader may never take them). */
  async drain(timeoutMs: number): Promise<boolean> {
    const by = performance.now() + timeoutMs
    while (this.port?.isOpen && this.port.writableLength > 0) {
      if (performance.now() > by) return false
      await sleep(10)
    }
    return true
  }

  async close(): Promise<void> {
    this.closed = true
    const port = this.port
    this.port = undefined
    if (!port?.isOpen) return
    // Queued bytes a stalled reader never takes are discarded: close must not wait for them.
    await new Promise<void>((resolve) => port.close(() => resolve()))
  }

  private openOnce(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: this.options.baudRate ?? 9600, autoOpen: false })
    return new Promise((resolve, reject) => {
      port.open((err) => {
        if (err) {
          reject(err)
          return
        }
        this.port = port
        this.stats.opens++
        const lost = () => this.onLost(port)
        port.on('close', lost)
        // A write to a hung-up pty fails: the port is then reopened, the frame counted as written.
        port.on('error', lost)
        resolve()
      })
    })
  }

  private onLost(port: SerialPort): void {
    if (this.port !== port || this.closed) return
    this.port = undefined
    if (port.isOpen) port.close()
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined
    })
  }

  private async reopen(): Promise<void> {
    while (!this.closed) {
      await sleep(this.options.retryMs ?? 200)
      if (this.closed) return
      try {
        await this.openOnce()
        return
      } catch {
        // Still unplugged: try again after the delay.
      }
    }
  }
}
