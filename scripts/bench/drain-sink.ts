// The cloud side of `npm run bench -- drain`: one mqtt.js subscriber (QoS 1, a persistent session on
// mosquitto) that counts distinct messages of one phase by their identity (outpost-gateway, outpost-seq
// user properties) and times the first and the last one. One byte per message number is all it keeps.
import { connect, type MqttClient } from 'mqtt'
import { nowMs } from './report.js'

export class DrainSink {
  private client: MqttClient | undefined
  private seen = new Uint8Array(0)
  private expected = 0
  private gatewayId = ''
  private unique = 0
  private duplicates = 0
  /** Messages of another phase or without a usable outpost-seq: counted, not timed. */
  private foreign = 0
  private firstAt: number | undefined
  private lastAt: number | undefined
  private connectedAt: number | undefined
  private waiter: (() => void) | undefined
  private errors = 0

  constructor(
    private readonly url: string,
    private readonly clientId: string,
  ) {}

  /** Connects (creating the persistent session) and subscribes to everything, QoS 1. */
  async start(): Promise<void> {
    // The message handler goes on before CONNACK: a resumed session's queued messages can arrive in the
    // same read as the CONNACK, before an `await connectAsync()` would return, and mqtt.js acknowledges
    // them whether or not anyone listens.
    const client = connect(this.url, {
      protocolVersion: 5,
      clientId: this.clientId,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 50,
      connectTimeout: 5000,
      keepalive: 60,
    })
    client.on('message', (_topic, _payload, packet) => this.onMessage(packet.properties?.userProperties))
    client.on('connect', () => {
      this.connectedAt = nowMs()
    })
    // While mosquitto is down between phases the client keeps retrying: each failed attempt is an error.
    client.on('error', () => {
      this.errors++
    })
    this.client = client
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sink: no connection to ${this.url}`)), 10_000)
      client.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    await client.subscribeAsync('#', { qos: 1 })
  }

  /** Connection errors so far (mosquitto down between phases). */
  get connectionErrors(): number {
    return this.errors
  }

  get connected(): boolean {
    return this.client?.connected ?? false
  }

  /** Resolves once the client is connected (it reconnects on its own after mosquitto restarts). */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = nowMs() + timeoutMs
    while (!this.connected) {
      if (nowMs() > deadline) throw new Error(`sink: not reconnected within ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** Starts counting a new phase: messages 1..expected from `gatewayId`. */
  reset(expected: number, gatewayId: string): void {
    this.seen = new Uint8Array(expected + 1)
    this.expected = expected
    this.gatewayId = gatewayId
    this.unique = 0
    this.duplicates = 0
    this.foreign = 0
    this.firstAt = undefined
    this.lastAt = undefined
    this.waiter = undefined
  }

  /** Resolves when every message of the phase arrived; rejects after `timeoutMs` or on `signal`. */
  waitAll(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.unique >= this.expected) return Promise.resolve()
    if (signal?.aborted) return Promise.reject(new Error('interrupted'))
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.waiter = undefined
        if (err) reject(err)
        else resolve()
      }
      const timer = setTimeout(
        () => finish(new Error(`sink: ${this.unique}/${this.expected} messages after ${timeoutMs / 1000} s`)),
        timeoutMs,
      )
      const onAbort = () => finish(new Error('interrupted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiter = () => finish()
    })
  }

  get counts(): { unique: number; duplicates: number; foreign: number } {
    return { unique: this.unique, duplicates: this.duplicates, foreign: this.foreign }
  }

  /** Arrival times (nowMs) of the phase's first message and of the message that completed it. */
  get times(): { firstAt: number | undefined; lastAt: number | undefined; connectedAt: number | undefined } {
    return { firstAt: this.firstAt, lastAt: this.lastAt, connectedAt: this.connectedAt }
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true)
    this.client = undefined
  }

  private onMessage(props: Record<string, string | string[]> | undefined): void {
    const raw = props?.['outpost-seq']
    const seq = typeof raw === 'string' ? Number(raw) : Number.NaN
    if (
      props?.['outpost-gateway'] !== this.gatewayId ||
      !Number.isInteger(seq) ||
      seq < 1 ||
      seq > this.expected
    ) {
      this.foreign++
      return
    }
    if (this.seen[seq] === 1) {
      this.duplicates++
      return
    }
    this.seen[seq] = 1
    const now = nowMs()
    this.firstAt ??= now
    if (++this.unique === this.expected) {
      this.lastAt = now
      this.waiter?.()
    }
  }
}
