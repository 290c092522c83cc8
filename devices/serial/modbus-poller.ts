// modbus-rtu: the gateway is the Modbus master. While the port is open it polls every unit each
// intervalMs — one read request per planned block (modbus-registers.ts), one at a time, each awaited up
// to timeoutMs — and publishes each unit's values as one JSON reading through the same sink as the other
// framings: {"unit":1,"time":"…","values":{"voltage":230.5,…}}. A unit whose request fails gets no
// reading that poll: the failure is counted by reason and the next unit, and the next poll, go on.
//
// Polls never overlap: a poll that falls due while the one before still runs is skipped and counted
// ("overrun"), and the schedule stays on its grid (no burst of catch-up polls after a slow one).
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeviceLogger } from '../device-logger.js'
import type { PollStatus } from '../device-status.js'
import type { PollErrorReason, PollSkipReason } from '../errors.js'
import type { Framer, FrameSink, PortWriter } from './framer.js'
import {
  decodeRegister,
  type ModbusConfig,
  type PlannedRead,
  planReads,
  type RegisterValue,
} from './modbus-registers.js'
import {
  classifyIncomplete,
  decodeReadResponse,
  encodeReadRequest,
  type ReadRequest,
  type ReadResult,
} from './modbus-rtu.js'

export interface ModbusPollerOptions {
  device: string
  config: ModbusConfig
  baudRate: number
  sink: FrameSink
  logger: DeviceLogger
  now: () => number
  /** True while earlier readings wait for the outbox: the poll is skipped. */
  backlogged: () => boolean
}

export class ModbusPoller implements Framer {
  private readonly units: readonly number[]
  private readonly reads: readonly PlannedRead[]
  /** [Modbus over Serial Line §2.5.1.1] 3.5 character times of silence between frames; 1.75 ms fixed
   *  above 19200 baud. A character is 11 bits (start, 8 data, parity or a second stop bit, stop). */
  private readonly gapMs: number
  private readonly s: PollStatus = { polls: 0, requests: 0, responses: 0, errors: {}, skipped: {} }
  /** Units failing since their last good poll, with the count of failed polls (for one log line each way). */
  private readonly failing = new Map<number, number>()
  /** Bytes received for the request in flight (undefined: none in flight, bytes are dropped). */
  private onBytes: ((chunk: Buffer) => void) | undefined
  private controller: AbortController | undefined
  private loop: Promise<void> | undefined

  constructor(private readonly o: ModbusPollerOptions) {
    const c = o.config
    this.units = c.units ?? (c.unitId === undefined ? [] : [c.unitId])
    this.reads = planReads(c.registers)
    this.gapMs = o.baudRate > 19200 ? 2 : Math.ceil((3.5 * 11 * 1000) / o.baudRate)
  }

  push(chunk: Buffer): void {
    this.onBytes?.(chunk)
  }

  reset(): void {}

  attach(port: PortWriter): void {
    if (this.loop) return
    const controller = new AbortController()
    this.controller = controller
    this.loop = this.run(port, controller.signal).catch((err: unknown) => {
      if (!controller.signal.aborted)
        this.o.logger.error({ device: this.o.device, err }, 'modbus polling failed')
    })
  }

  async detach(): Promise<void> {
    this.controller?.abort()
    await this.loop
    this.loop = undefined
    this.controller = undefined
  }

  pollStatus(): PollStatus {
    return { ...this.s, errors: { ...this.s.errors }, skipped: { ...this.s.skipped } }
  }

  private async run(port: PortWriter, signal: AbortSignal): Promise<void> {
    const interval = this.o.config.intervalMs
    let due = this.o.now()
    while (!signal.aborted) {
      if (this.o.backlogged()) this.skip('backlog', 1)
      else await this.poll(port, signal).catch((err: unknown) => this.onBug(err))
      if (signal.aborted) return
      due += interval
      const now = this.o.now()
      if (now > due) {
        const missed = Math.ceil((now - due) / interval)
        this.skip('overrun', missed)
        due += missed * interval
      }
      await sleep(due - now, undefined, { signal }).catch(() => undefined)
    }
  }

  /** A bug in decoding must not stop polling (nor take the gateway down): logged, and the next poll runs. */
  private onBug(err: unknown): void {
    this.o.logger.error({ device: this.o.device, err }, 'modbus poll failed')
  }

  private skip(reason: PollSkipReason, polls: number): void {
    this.s.skipped[reason] = (this.s.skipped[reason] ?? 0) + polls
    this.o.logger.debug({ device: this.o.device, reason, polls }, 'modbus poll skipped')
  }

  /** One poll: every unit, every planned read; a unit's reading is published once all of its reads came. */
  private async poll(port: PortWriter, signal: AbortSignal): Promise<void> {
    this.s.polls++
    for (const unit of this.units) {
      const time = new Date(this.o.now()).toISOString()
      const values: Record<string, RegisterValue> = {}
      let failed = false
      for (const read of this.reads) {
        const request: ReadRequest = { unit, fn: read.fn, address: read.address, quantity: read.quantity }
        const result = await this.transact(port, request, signal)
        if (result === undefined) return // stopping
        if (!result.ok) this.onError(unit, request, result)
        // The line must be quiet between frames; after a failure, longer: the rest of a bad or late
        // response must not be read as the answer to the next request.
        await sleep(result.ok ? this.gapMs : Math.max(this.gapMs, 50), undefined, { signal }).catch(
          () => undefined,
        )
        if (!result.ok) {
          failed = true
          break
        }
        this.s.responses++
        for (const { register, offset } of read.blocks) {
          values[register.name] = decodeRegister(register, result.data.subarray(2 * offset))
        }
      }
      if (signal.aborted) return
      if (failed) continue
      this.recovered(unit)
      const json = { unit, time, values }
      this.o.sink.frame({ payload: Buffer.from(JSON.stringify(json)), json })
    }
  }

  /** Sends one request and waits for its response; undefined when stopped meanwhile. */
  private transact(
    port: PortWriter,
    request: ReadRequest,
    signal: AbortSignal,
  ): Promise<ReadResult | undefined> {
    if (signal.aborted) return Promise.resolve(undefined)
    this.s.requests++
    return new Promise((resolve) => {
      let rx: Buffer = Buffer.alloc(0)
      let settled = false
      const finish = (result: ReadResult | undefined) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.onBytes = undefined
        resolve(result)
      }
      const onAbort = () => finish(undefined)
      const timer = setTimeout(() => finish(classifyIncomplete(request, rx)), this.o.config.timeoutMs)
      signal.addEventListener('abort', onAbort, { once: true })
      this.onBytes = (chunk) => {
        rx = rx.length === 0 ? chunk : Buffer.concat([rx, chunk])
        const result = decodeReadResponse(request, rx)
        if (result) finish(result)
      }
      port.write(encodeReadRequest(request), (err) => {
        if (err) finish({ ok: false, reason: 'write_failed', detail: err.message })
      })
    })
  }

  private onError(unit: number, request: ReadRequest, result: ReadResult & { ok: false }): void {
    const reason: PollErrorReason = result.reason
    this.s.errors[reason] = (this.s.errors[reason] ?? 0) + 1
    const ctx = { device: this.o.device, unit, fn: request.fn, address: request.address, reason }
    this.o.logger.debug({ ...ctx, detail: result.detail }, 'modbus request failed')
    const failedPolls = this.failing.get(unit)
    if (failedPolls === undefined)
      this.o.logger.warn({ ...ctx, detail: result.detail }, 'modbus unit failing')
    this.failing.set(unit, (failedPolls ?? 0) + 1)
  }

  private recovered(unit: number): void {
    const failedPolls = this.failing.get(unit)
    if (failedPolls === undefined) return
    this.failing.delete(unit)
    this.o.logger.info({ device: this.o.device, unit, failedPolls }, 'modbus unit answering again')
  }
}
