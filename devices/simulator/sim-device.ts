// One simulated MQTT device: its own mqtt.js client with a stable client id, at most `window` messages
// in flight, and its own memory of what is not yet acknowledged. A message counts as delivered only on
// its PUBACK (PUBCOMP for QoS 2); when the connection drops, everything in flight goes back to the head
// of the queue and is sent again, oldest first, after reconnecting (at least once, in order: the first
// copies of a device's messages reach the broker in the order they were queued).
//
// mqtt.js's own reconnect and resend are off (reconnectPeriod 0, a new client per connection): the device
// decides what to resend, and counts it.
import { connect, type MqttClient } from 'mqtt'

export interface SimMessage {
  seq: number
  topic: string
  payload: Buffer
}

export interface SimDeviceOptions {
  url: string
  clientId: string
  username?: string
  password?: string
  qos: 0 | 1 | 2
  /** Messages published and not yet acknowledged, at most. */
  window: number
  /** Unacknowledged messages the device keeps, at most (its memory); enqueue refuses beyond it. */
  maxQueued: number
  /** Reconnect delays (exponential, jittered); false: the device gives up when its connection ends. */
  reconnect: { minMs: number; maxMs: number } | false
  connectTimeoutMs?: number
  keepaliveSec?: number
  random?: () => number
  /** Called once per message, when acknowledged (QoS 0: when written). */
  onAck?: (msg: SimMessage) => void
  /** Called when the device gives up (reconnect: false, and its connection ended or never came up). */
  onGiveUp?: () => void
}

export interface SimDeviceStats {
  /** Messages put on the wire for the first time. */
  sent: number
  /** Messages put on the wire again after a reconnect. */
  resent: number
  acked: number
  /** Connections established. */
  connects: number
  /** Established connections that ended before stop(). */
  drops: number
}

interface Entry extends SimMessage {
  sentBefore: boolean
}

export class SimDevice {
  readonly stats: SimDeviceStats = { sent: 0, resent: 0, acked: 0, connects: 0, drops: 0 }
  lastError: string | undefined
  private client: MqttClient | undefined
  private online = false
  private generation = 0
  private attempt = 0
  private stopped = false
  private gaveUp = false
  private timer: NodeJS.Timeout | undefined
  private queue: Entry[] = []
  private head = 0
  private readonly inflight = new Map<number, Entry>()
  private firstConnect: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void }
  private idleWaiters = new Set<() => void>()

  constructor(private readonly opts: SimDeviceOptions) {
    let resolve!: () => void
    let reject!: (err: Error) => void
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => undefined) // observed through connected(); not an unhandled rejection meanwhile
    this.firstConnect = { promise, resolve, reject }
  }

  get id(): string {
    return this.opts.clientId
  }

  /** Messages not yet acknowledged (queued or in flight). */
  get unacked(): number {
    return this.queue.length - this.head + this.inflight.size
  }

  get inFlight(): number {
    return this.inflight.size
  }

  get connected(): boolean {
    return this.online
  }

  /** The connection ended and the device does not reconnect (reconnect: false). */
  get dead(): boolean {
    return this.gaveUp
  }

  start(): void {
    if (!this.client && !this.stopped && this.timer === undefined) this.connectNow()
  }

  /** Resolves on the first CONNACK; rejects when the first attempt fails and the device does not reconnect. */
  whenConnected(): Promise<void> {
    return this.firstConnect.promise
  }

  /** Queues a message; false when the device's memory (maxQueued) is full. */
  enqueue(msg: SimMessage): boolean {
    if (this.unacked >= this.opts.maxQueued || this.stopped) return false
    this.queue.push({ ...msg, sentBefore: false })
    this.pump()
    return true
  }

  /** Resolves when nothing is unacknowledged (or the device gave up / stopped), or after timeoutMs. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.unacked === 0 || this.gaveUp || this.stopped) return this.unacked === 0
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.idleWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.idleWaiters.add(done)
    })
    return this.unacked === 0
  }

  /** Sequence numbers still unacknowledged, in order. */
  unackedSeqs(): number[] {
    return [...this.inflight.keys(), ...this.queue.slice(this.head).map((e) => e.seq)].sort((a, b) => a - b)
  }

  /** Disconnects at once; unacknowledged messages stay unacknowledged. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    const client = this.client
    this.client = undefined
    this.online = false
    this.generation++
    this.wakeIdle()
    if (client) await client.endAsync(true)
  }

  private connectNow(): void {
    const gen = ++this.generation
    const client = connect(this.opts.url, {
      clientId: this.opts.clientId,
      username: this.opts.username,
      password: this.opts.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
      keepalive: this.opts.keepaliveSec ?? 30,
      queueQoSZero: false,
    })
    this.client = client
    client.on('connect', () => {
      if (gen !== this.generation) return
      this.online = true
      this.attempt = 0
      this.stats.connects++
      this.firstConnect.resolve()
      this.pump()
    })
    client.on('error', (err) => {
      // Connection refused, not authorised, a protocol error: the 'close' that follows handles it.
      this.lastError = err.message
    })
    client.on('close', () => this.onClose(gen, client))
  }

  private onClose(gen: number, client: MqttClient): void {
    if (gen !== this.generation) return
    this.generation++ // callbacks of this connection's publishes are now stale
    const wasOnline = this.online
    this.online = false
    this.client = undefined
    client.end(true)
    if (this.inflight.size > 0) {
      // Back to the head of the queue, oldest first: resent before anything newer.
      const back = [...this.inflight.values()].sort((a, b) => a.seq - b.seq)
      this.inflight.clear()
      this.queue = [...back, ...this.queue.slice(this.head)]
      this.head = 0
    }
    if (this.stopped) return
    if (wasOnline) this.stats.drops++
    if (this.opts.reconnect === false) {
      this.gaveUp = true
      this.firstConnect.reject(new Error(`${this.opts.clientId}: ${this.lastError ?? 'connection closed'}`))
      this.wakeIdle()
      this.opts.onGiveUp?.()
      return
    }
    const { minMs, maxMs } = this.opts.reconnect
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.attempt++, 20))
    const delay = Math.max(minMs, Math.floor((this.opts.random ?? Math.random)() * ceiling))
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.stopped) this.connectNow()
    }, delay)
  }

  private pump(): void {
    const client = this.client
    if (!client || !this.online) return
    const gen = this.generation
    while (this.inflight.size < this.opts.window && this.head < this.queue.length) {
      const entry = this.queue[this.head++] as Entry
      this.inflight.set(entry.seq, entry)
      if (entry.sentBefore) this.stats.resent++
      else this.stats.sent++
      const dup = entry.sentBefore && this.opts.qos > 0
      entry.sentBefore = true
      client.publish(entry.topic, entry.payload, { qos: this.opts.qos, dup }, (err) => {
        if (gen !== this.generation) return // requeued when its connection closed
        if (err) {
          // The connection is closing: the entry stays in flight and is requeued by onClose.
          this.lastError = err.message
          return
        }
        this.inflight.delete(entry.seq)
        this.stats.acked++
        this.opts.onAck?.(entry)
        if (this.unacked === 0) this.wakeIdle()
        this.pump()
      })
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  private wakeIdle(): void {
    for (const w of [...this.idleWaiters]) w()
  }
}
