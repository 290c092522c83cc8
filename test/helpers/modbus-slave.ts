// A Modbus RTU slave for tests, on the host end of a socat pty pair: it answers read holding registers
// (0x03) and read input registers (0x04) for the units it simulates, from register tables the test sets,
// and can be told to answer the next requests badly — a flipped CRC, an exception, a reply from another
// unit or for another function, or nothing at all — or slowly. Its CRC is computed bit by bit, apart
// from the gateway's table-driven one, so a shared mistake cannot pass both ends.
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialPort } from 'serialport'

export type Fault =
  | { kind: 'bad-crc' }
  | { kind: 'exception'; code: number }
  | { kind: 'silent' }
  | { kind: 'wrong-unit' }
  | { kind: 'wrong-function' }
  | { kind: 'slow'; delayMs: number }

export interface SlaveRequest {
  unit: number
  fn: number
  address: number
  quantity: number
  /** performance.now() when it was read. */
  at: number
}

type Table = Map<number, number>

export function crc16Bitwise(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const byte of bytes) {
    crc ^= byte
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc
}

function frame(bytes: number[]): Buffer {
  const body = Buffer.from(bytes)
  const crc = Buffer.alloc(2)
  crc.writeUInt16LE(crc16Bitwise(body))
  return Buffer.concat([body, crc])
}

export class ModbusSlave {
  readonly requests: SlaveRequest[] = []
  /** Requests whose CRC was wrong (the slave stays silent, as a real one must). */
  badRequests = 0
  readonly errors: Error[] = []
  /** Called for each request to a simulated unit before it is answered (to change registers per read). */
  onRequest: ((r: SlaveRequest) => void) | undefined
  private readonly tables = new Map<number, { holding: Table; input: Table }>()
  private readonly faults: Fault[] = []
  private rx = Buffer.alloc(0)
  private busy = Promise.resolve()

  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => this.onData(chunk))
    // The pty going away (an unplug) errors and closes the port; the test opens a new slave after replug.
    port.on('error', (err: Error) => this.errors.push(err))
  }

  /** Opens the host end (retrying: the pty may be about to appear) and serves `units`. */
  static async open(path: string, units: number[], timeoutMs = 5000): Promise<ModbusSlave> {
    const by = performance.now() + timeoutMs
    for (;;) {
      const port = new SerialPort({ path, baudRate: 19200, autoOpen: false })
      const err = await new Promise<Error | null>((resolve) => port.open(resolve))
      if (!err) {
        const slave = new ModbusSlave(port)
        for (const u of units) slave.tables.set(u, { holding: new Map(), input: new Map() })
        return slave
      }
      if (performance.now() > by) throw err
      await sleep(50)
    }
  }

  /** Sets registers from `address` on: 16-bit words. */
  set(unit: number, type: 'holding' | 'input', address: number, words: number[]): void {
    const t = this.tables.get(unit)
    if (!t) throw new Error(`unit ${unit} is not simulated`)
    for (const [i, w] of words.entries()) t[type].set(address + i, w & 0xffff)
  }

  /** The next requests (one fault each, in order) are answered so. */
  fault(...faults: Fault[]): void {
    this.faults.push(...faults)
  }

  get isOpen(): boolean {
    return this.port.isOpen
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return
    await new Promise<void>((resolve) => this.port.close(() => resolve()))
  }

  private onData(chunk: Buffer): void {
    this.rx = Buffer.concat([this.rx, chunk])
    while (this.rx.length >= 8) {
      const req = this.rx.subarray(0, 8)
      this.rx = this.rx.subarray(8)
      if (crc16Bitwise(req.subarray(0, 6)) !== req.readUInt16LE(6)) {
        this.badRequests++
        this.rx = Buffer.alloc(0) // resynchronise on the next request
        return
      }
      const request = {
        unit: req[0] as number,
        fn: req[1] as number,
        address: req.readUInt16BE(2),
        quantity: req.readUInt16BE(4),
        at: performance.now(),
      }
      if (!this.tables.has(request.unit)) continue // not ours: a slave stays silent
      this.requests.push(request)
      this.onRequest?.(request)
      const fault = this.faults.shift()
      // Answers go out one after another, as from one slave's UART.
      this.busy = this.busy.then(() => this.answer(request, fault))
    }
  }

  private async answer(r: SlaveRequest, fault: Fault | undefined): Promise<void> {
    if (fault?.kind === 'silent') return
    if (fault?.kind === 'slow') await sleep(fault.delayMs)
    let reply = this.reply(r)
    if (fault?.kind === 'exception') reply = frame([r.unit, r.fn | 0x80, fault.code])
    if (fault?.kind === 'wrong-unit') reply = frame([(r.unit % 247) + 1, ...reply.subarray(1, -2)])
    if (fault?.kind === 'wrong-function')
      reply = frame([r.unit, r.fn === 3 ? 4 : 3, ...reply.subarray(2, -2)])
    if (fault?.kind === 'bad-crc') {
      reply = Buffer.from(reply)
      reply[reply.length - 1] = (reply[reply.length - 1] as number) ^ 0xff
    }
    if (this.port.isOpen) this.port.write(reply)
  }

  private reply(r: SlaveRequest): Buffer {
    const t = this.tables.get(r.unit)
    const table = r.fn === 3 ? t?.holding : r.fn === 4 ? t?.input : undefined
    if (!table) return frame([r.unit, r.fn | 0x80, 1]) // illegal function
    const words: number[] = []
    for (let a = r.address; a < r.address + r.quantity; a++) {
      const w = table.get(a)
      if (w === undefined) return frame([r.unit, r.fn | 0x80, 2]) // illegal data address
      words.push(w >> 8, w & 0xff)
    }
    return frame([r.unit, r.fn, 2 * r.quantity, ...words])
  }
}
