// One serial device: open its port, frame what it sends, publish each frame, and keep at it. A port that
// is missing or goes away is retried with backoff (one log line per state change, never a crash); a
// reading counts as taken only when the gateway has committed it. A serial line has no acknowledgement
// to withhold, so a reading the outbox refuses is dropped and counted with its reason (devices/errors.ts).
//
// Loss of an open port is detected four ways, because serialport reports a pty's other end going away
// late or not at all: 'error' and 'close' (EIO, EBADF), 'end' (a 0-byte read), and the path's identity
// changing or vanishing (path-identity.ts), checked every pathCheckMs.
import { access, constants } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SerialDeviceConfig } from '../../config/schema.js'
import type { DeviceLogger } from '../device-logger.js'
import type { DevicePublish, PublishOutcome } from '../device-publish.js'
import type { SerialDeviceStatus, SerialState } from '../device-status.js'
import { DeviceError, type GarbageReason } from '../errors.js'
import { backoffDelay } from './backoff.js'
import { createFramer, type Frame, type Framer } from './framer.js'
import { pathIdentity } from './path-identity.js'
import { type CreateSerialLink, createSerialPort, type SerialLink } from './serial-link.js'

export interface SerialAdapterOptions {
  config: SerialDeviceConfig
  /** The topic of a frame (from the device's template), or undefined when its field is unfit. */
  topic: (json: unknown) => string | undefined
  publish: DevicePublish
  logger: DeviceLogger
  createLink?: CreateSerialLink
  /** What the path names now (undefined: nothing); compared while the port is open. */
  identify?: (path: string) => Promise<string | undefined>
  now?: () => number
  random?: () => number
  /** How often an open port's path is checked. */
  pathCheckMs?: number
  /** Readings handed over and not yet committed, at most: reading the port pauses beyond this. */
  maxPending?: number
}

export class SerialAdapter {
  private readonly controller = new AbortController()
  private running: Promise<void> | undefined
  private readonly framer: Framer
  private readonly s: SerialDeviceStatus
  private link: SerialLink | undefined
  private paused = false
  /** Dropped since readings were last taken (0 while the outbox takes them). */
  private refusedRun = 0
  private readonly log: DeviceLogger
  private readonly now: () => number
  private readonly maxPending: number

  constructor(private readonly opts: SerialAdapterOptions) {
    const c = opts.config
    this.now = opts.now ?? Date.now
    this.maxPending = opts.maxPending ?? 1000
    this.log = opts.logger
    this.s = {
      name: c.name,
      path: c.path,
      framing: c.framing,
      state: 'opening',
      sinceMs: this.now(),
      opens: 0,
      bytesRead: 0,
      frames: 0,
      readings: 0,
      pending: 0,
      garbage: {},
      dropped: {},
    }
    const poll =
      c.modbus === undefined
        ? undefined
        : {
            device: c.name,
            config: c.modbus,
            baudRate: c.baudRate,
            logger: this.log,
            now: this.now,
            backlogged: () => this.s.pending >= this.maxPending,
          }
    this.framer = createFramer(
      c,
      { frame: (f) => this.onFrame(f), garbage: (reason, detail) => this.onGarbage(reason, detail) },
      poll,
    )
  }

  get name(): string {
    return this.opts.config.name
  }

  /** Starts opening the port in the background (a missing port never delays the gateway's start). */
  start(): void {
    this.running ??= this.run(this.controller.signal)
  }

  /** Closes the port and stops retrying. Idempotent. */
  async stop(): Promise<void> {
    this.controller.abort()
    await this.running
    this.setState('stopped')
  }

  status(): SerialDeviceStatus {
    const polls = this.framer.pollStatus?.()
    return {
      ...this.s,
      garbage: { ...this.s.garbage },
      dropped: { ...this.s.dropped },
      ...(polls ? { polls } : {}),
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    let attempt = 0
    while (!signal.aborted) {
      const opensBefore = this.s.opens
      const error = await this.session(signal).catch(
        // The port refused its settings, or a bug: a device problem, retried like one, never a crash.
        (err: unknown) =>
          new DeviceError(
            'OUTPOST_DEVICE_OPEN_FAILED',
            `cannot open ${this.opts.config.path}: ${(err as Error).message}`,
            {
              cause: err,
            },
          ),
      )
      if (signal.aborted || error === undefined) return
      attempt = this.s.opens > opensBefore ? 0 : attempt + 1
      this.setState('closed', error)
      const delay = backoffDelay(attempt, this.opts.config.reopen, this.opts.random ?? Math.random)
      await sleep(delay, undefined, { signal }).catch((err: unknown) => {
        if (!signal.aborted) throw err
      })
    }
  }

  /** Opens the port and reads until it is lost (the reason) or the adapter stops (undefined). */
  private async session(signal: AbortSignal): Promise<DeviceError | undefined> {
    const { path } = this.opts.config
    const identify = this.opts.identify ?? pathIdentity
    const identity = await identify(path)
    if (identity === undefined) return new DeviceError('OUTPOST_DEVICE_NOT_FOUND', `${path} does not exist`)
    if (signal.aborted) return undefined

    const link = (this.opts.createLink ?? createSerialPort)(this.opts.config)
    const openError = await new Promise<Error | null>((resolve) => link.open(resolve))
    if (openError) return await classifyOpenError(path, openError)
    if (signal.aborted) {
      await closeQuietly(link, (err) =>
        this.log.debug({ device: this.name, err: err.message }, 'close failed'),
      )
      return undefined
    }
    this.link = link
    this.paused = false
    this.framer.reset()
    this.s.opens++
    this.setState('open')
    const lost = this.readUntilLost(link, identity, signal)
    this.framer.attach?.(link)
    await lost
    await this.framer.detach?.()
    this.link = undefined
    await closeQuietly(link, (err) => this.log.debug({ device: this.name, err: err.message }, 'close failed'))
    return await lost
  }

  private readUntilLost(
    link: SerialLink,
    identity: string,
    signal: AbortSignal,
  ): Promise<DeviceError | undefined> {
    const { path } = this.opts.config
    const identify = this.opts.identify ?? pathIdentity
    return new Promise((resolve) => {
      let checking = false
      const onData = (chunk: Buffer) => this.onData(chunk)
      const onError = (err?: Error | null) =>
        done(new DeviceError('OUTPOST_DEVICE_DISCONNECTED', `port error: ${err?.message}`, { cause: err }))
      const onClose = (err?: Error | null) =>
        done(
          new DeviceError(
            'OUTPOST_DEVICE_DISCONNECTED',
            err ? `port closed: ${err.message}` : 'port closed',
            {
              cause: err ?? undefined,
            },
          ),
        )
      const onEnd = () =>
        done(new DeviceError('OUTPOST_DEVICE_DISCONNECTED', 'end of input (the other end hung up)'))
      const onAbort = () => done(undefined)
      let finished = false
      const done = (error: DeviceError | undefined) => {
        if (finished) return
        finished = true
        clearInterval(timer)
        signal.removeEventListener('abort', onAbort)
        link.removeListener('data', onData)
        link.removeListener('close', onClose)
        link.removeListener('end', onEnd)
        link.removeListener('error', onError)
        // Late errors from the closing port are logged, not thrown (an unhandled 'error' would crash).
        link.on('error', (err) => this.log.debug({ device: this.name, err: err?.message }, 'port error'))
        resolve(error)
      }
      const timer = setInterval(() => {
        if (checking) return
        checking = true
        void identify(path).then((now) => {
          checking = false
          if (now === identity) return
          done(
            new DeviceError(
              'OUTPOST_DEVICE_PATH_CHANGED',
              now === undefined ? `${path} disappeared` : `${path} now names another device`,
            ),
          )
        })
      }, this.opts.pathCheckMs ?? 500)
      signal.addEventListener('abort', onAbort, { once: true })
      link.on('data', onData)
      link.on('error', onError)
      link.on('close', onClose)
      link.on('end', onEnd)
    })
  }

  private onData(chunk: Buffer): void {
    this.s.bytesRead += chunk.length
    try {
      this.framer.push(chunk)
    } catch (err) {
      // A bug in a framing must not take the gateway down: drop what is buffered and go on.
      this.log.error({ device: this.name, err }, 'framing failed: partial frame discarded')
      this.framer.reset()
    }
  }

  private onGarbage(reason: GarbageReason, detail: string): void {
    this.s.garbage[reason] = (this.s.garbage[reason] ?? 0) + 1
    this.log.debug({ device: this.name, reason, detail }, 'serial input skipped')
  }

  private onFrame(frame: Frame): void {
    this.s.frames++
    const { config } = this.opts
    const topic = this.opts.topic(frame.json)
    if (topic === undefined) {
      this.onGarbage('topic_field', `a field of the topic "${config.topic}" is missing or unfit`)
      return
    }
    this.s.pending++
    // A polling framing is not paused (its answers would time out): it skips polls while backlogged.
    if (this.s.pending >= this.maxPending && !this.paused && this.link && !this.framer.attach) {
      this.paused = true
      this.link.pause()
    }
    this.opts.publish({ topic, payload: frame.payload, qos: config.qos, origin: config.name }, (outcome) =>
      this.onOutcome(outcome),
    )
  }

  private onOutcome(outcome: PublishOutcome): void {
    this.s.pending--
    if (this.paused && this.s.pending <= this.maxPending / 2) {
      this.paused = false
      this.link?.resume()
    }
    if (outcome.taken) {
      this.s.readings++
      if (this.refusedRun > 0) {
        this.log.info({ device: this.name, dropped: this.refusedRun }, 'serial readings taken again')
        this.refusedRun = 0
      }
      return
    }
    this.s.dropped[outcome.reason] = (this.s.dropped[outcome.reason] ?? 0) + 1
    if (this.refusedRun++ === 0) {
      this.log.warn(
        { device: this.name, reason: outcome.reason },
        'serial readings dropped: the outbox refused them (a serial line cannot be asked to resend)',
      )
    }
  }

  private setState(state: SerialState, error?: DeviceError): void {
    const prev = this.s.state
    const prevCode = this.s.error?.code
    this.s.state = state
    this.s.sinceMs = prev === state ? this.s.sinceMs : this.now()
    this.s.error = error ? { code: error.code, message: error.message } : undefined
    const ctx = { device: this.name, path: this.opts.config.path }
    if (state === 'open') {
      this.log.info({ ...ctx, framing: this.opts.config.framing, opens: this.s.opens }, 'serial device open')
    } else if (state === 'stopped') {
      if (prev !== 'stopped') this.log.info(ctx, 'serial device stopped')
    } else if (error && prev !== state) {
      const msg = prev === 'open' ? 'serial device lost: reopening' : 'serial device unavailable: retrying'
      this.log.warn({ ...ctx, code: error.code, err: error.message }, msg)
    } else if (error) {
      // Still closed: one line per state change at warn; what changes while retrying goes to debug.
      const msg = prevCode === error.code ? 'serial device still unavailable' : 'serial device unavailable'
      this.log.debug({ ...ctx, code: error.code, err: error.message }, msg)
    }
  }
}

async function classifyOpenError(path: string, err: Error): Promise<DeviceError> {
  try {
    await access(path, constants.R_OK | constants.W_OK)
  } catch (accessErr) {
    if ((accessErr as NodeJS.ErrnoException).code === 'EACCES') {
      return new DeviceError('OUTPOST_DEVICE_PERMISSION', `no permission to open ${path}`, { cause: err })
    }
    if ((accessErr as NodeJS.ErrnoException).code === 'ENOENT') {
      return new DeviceError('OUTPOST_DEVICE_NOT_FOUND', `${path} does not exist`, { cause: err })
    }
  }
  return new DeviceError('OUTPOST_DEVICE_OPEN_FAILED', `cannot open ${path}: ${err.message}`, { cause: err })
}

function closeQuietly(link: SerialLink, onError: (err: Error) => void): Promise<void> {
  if (!link.isOpen) return Promise.resolve()
  return new Promise((resolve) =>
    link.close((err) => {
      if (err) onError(err)
      resolve()
    }),
  )
}
