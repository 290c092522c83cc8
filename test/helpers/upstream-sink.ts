// The cloud side of an end-to-end test: an MQTT 5 client on the test's mosquitto that records every
// message the gateway forwards, with the identity the gateway attached (outpost-gateway, outpost-seq).
import { readFileSync } from 'node:fs'
import { connect, type MqttClient } from 'mqtt'

export interface SunkMessage {
  topic: string
  payload: Buffer
  gateway: string | undefined
  seq: number | undefined
}

export class UpstreamSink {
  readonly messages: SunkMessage[] = []
  private readonly ids = new Set<string>()
  private client: MqttClient | undefined
  private waiters = new Set<() => void>()

  /**
   * @param persistent keep a session on the broker (clean: false), so messages are queued for the sink
   *   while it is away, including across restarts of a mosquitto with persistence.
   */
  constructor(
    private readonly url: string,
    private readonly filter = '#',
    private readonly persistent = false,
    private readonly clientId = `sink-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    /** TLS files (paths) for an mqtts:// broker. */
    private readonly tls?: { ca?: string; cert?: string; key?: string },
  ) {}

  async connect(): Promise<void> {
    // The message handler goes on before CONNACK: a resumed session's queued messages can arrive in the
    // same read as the CONNACK, before an `await connectAsync()` would return (and mqtt.js acknowledges
    // them whether or not anyone listens).
    const client = connect(this.url, {
      protocolVersion: 5,
      clientId: this.clientId,
      clean: !this.persistent,
      properties: this.persistent ? { sessionExpiryInterval: 3600 } : undefined,
      reconnectPeriod: 100,
      connectTimeout: 5000,
      ...(this.tls
        ? {
            ca: this.tls.ca ? readFileSync(this.tls.ca) : undefined,
            cert: this.tls.cert ? readFileSync(this.tls.cert) : undefined,
            key: this.tls.key ? readFileSync(this.tls.key) : undefined,
          }
        : {}),
    })
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties?.userProperties as Record<string, string> | undefined
      const m = {
        topic,
        payload: Buffer.from(payload),
        gateway: props?.['outpost-gateway'],
        seq: props?.['outpost-seq'] === undefined ? undefined : Number(props['outpost-seq']),
      }
      this.messages.push(m)
      this.ids.add(`${m.gateway}/${m.seq}`)
      for (const w of this.waiters) w()
    })
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    await client.subscribeAsync(this.filter, { qos: 1 })
    this.client = client
  }

  /** Resolves when `count` distinct (gateway, seq) messages arrived; rejects after timeoutMs. */
  waitForUnique(count: number, timeoutMs: number): Promise<void> {
    return this.waitFor(
      () => this.uniqueCount() >= count,
      timeoutMs,
      () => `${this.uniqueCount()}/${count} messages`,
    )
  }

  waitFor(done: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
    if (done()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`sink timed out after ${timeoutMs} ms: ${describe()}`))
      }, timeoutMs)
      const check = () => {
        if (done()) {
          clearTimeout(timer)
          this.waiters.delete(check)
          resolve()
        }
      }
      this.waiters.add(check)
    })
  }

  uniqueCount(): number {
    return this.ids.size
  }

  /** Messages in arrival order with later copies of the same identity removed. */
  firstCopies(): SunkMessage[] {
    const seen = new Set<string>()
    return this.messages.filter((m) => {
      const id = `${m.gateway}/${m.seq}`
      if (seen.has(id)) return false
      seen.add(id)
      return true
    })
  }

  /** Disconnects after acknowledging what it received (force: drop the connection at once). */
  async close(force = false): Promise<void> {
    await this.client?.endAsync(force)
    this.client = undefined
  }
}
