// One connection's worth of forwarding (mqtt-forwarder.ts starts one per connection). It reads the
// outbox after the cursor, publishes up to the window, and settles every slot one way or another:
//
//   acknowledged   the upstream took it
//   skipped        not routed to this upstream
//   dead-lettered  never sendable here (its topic is illegal upstream, it is over the upstream's
//                  Maximum Packet Size) or refused for good by reason code; settled once the dead
//                  letter is written, never before
//
// The cursor moves over the contiguous settled prefix only. A slot stays occupied until the cursor past
// it is written, so a crash resends at most a window's worth. The session ends when the connection does,
// or ends it itself: on a transient refusal (resend everything from the cursor after the reconnect
// backoff: order kept, nothing skipped), and when the oldest message in flight is not answered within
// ackTimeoutMs (the upstream is stalled).
//
// Hot path (~25k messages/s): per message a window slot, a scan of the topic, the publish with its
// callback. No promise, no timer per message: the ack deadline is one timer for the connection.
import type { IClientPublishOptions, MqttClient, Packet } from 'mqtt'
import type { MqttUpstreamConfig } from '../../config/schema.js'
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { GatewayError } from '../errors.js'
import type { Logger } from '../logger.js'
import { AckDeadline } from './ack-deadline.js'
import { AckWindow } from './ack-window.js'
import { sleep } from './backoff.js'
import { publishPacketBytes } from './publish-size.js'
import type { RateLimiter } from './rate-limit.js'
import { classifyRefusal, type Refusal, reasonCodeOf } from './reason-codes.js'
import { mqttStringProblem, upstreamTopicProblem } from './upstream-topic.js'

const READ_BATCH = 256
const READ_BYTES = 1 << 20
/**
 * A message sent alone to find out whether it is poison waits until the new connection has been up this
 * long with nothing in flight: a link that is dying anyway dies before it is sent (no evidence), not
 * while it waits for its PUBACK.
 */
export const ISOLATION_SETTLE_MS = 1000

/** What a session needs from its forwarder: the state that outlives one connection. */
export interface SessionHost {
  readonly name: string
  readonly config: MqttUpstreamConfig
  readonly gatewayId: string
  readonly outbox: Outbox
  readonly log: Logger
  readonly limiter: RateLimiter | undefined
  readonly counters: { sent: number; acked: number; skipped: number }
  /** Everything up to this sequence number is settled (the cursor). */
  readonly position: number
  /** The message being sent alone (poison detection), if any. */
  readonly isolating: number | undefined
  /** The settled prefix reached `seq`: move the cursor; resolves once it is written. */
  advance(seq: number): Promise<void>
  /** Moves `record` to the dead letters, once; resolves once written (rejects if the outbox closed). */
  deadLetter(record: StoredRecord, reason: DeadLetterReason, detail: string): Promise<void>
  /** The dead letter made (or being made) for `seq` while the cursor is not past it yet. */
  deadLettered(seq: number): Promise<void> | undefined
  /** The upstream answered a message (acknowledged or refused it). Called for every answer. */
  answered(): void
  /** A transient refusal: the session ends the connection to resend after a backoff. */
  refused(refusal: Refusal): void
  /** No answer for the oldest message in flight (`seq`) within ackTimeoutMs. */
  stalled(seq: number | undefined): void
  /** A record's origin cannot be an MQTT string: sent without its outpost-origin property. */
  originOmitted(record: StoredRecord, problem: string): void
}

export class PublishSession {
  private readonly window: AckWindow
  private readonly deadline: AckDeadline
  private readonly v5: boolean
  private sentUnanswered = 0
  private persistedRetired = 0 // slots whose cursor position is written
  private slotFree: (() => void) | undefined
  private readonly deadLettering = new Set<Promise<unknown>>()
  private isolated: StoredRecord | undefined
  private lastOrigin = ''
  private originProblem: string | undefined

  constructor(
    private readonly host: SessionHost,
    private readonly client: MqttClient,
    private readonly signal: AbortSignal,
    /** Ends the connection (the session then returns). */
    private readonly end: (err: Error) => void,
    private readonly windowSize: number,
    /** The upstream's Maximum Packet Size (CONNACK), if it announced one. */
    private readonly maxPacketBytes: number | undefined,
  ) {
    this.window = new AckWindow(host.position)
    this.v5 = host.config.protocolVersion === 5
    this.deadline = new AckDeadline(host.config.ackTimeoutMs, () => {
      const oldest = this.window.oldest()
      host.stalled(oldest)
      this.end(
        new GatewayError(
          'OUTPOST_UPSTREAM_STALLED',
          `no acknowledgement for record ${oldest} within ${host.config.ackTimeoutMs} ms (ackTimeoutMs); reconnecting`,
          { canRetry: true },
        ),
      )
    })
  }

  /** Messages awaiting their settlement. */
  get inflight(): number {
    return this.window.size
  }

  /** The oldest message sent and not answered, if any (after the connection ended: what it ended on). */
  oldestInFlight(): number | undefined {
    return this.sentUnanswered > 0 ? this.window.oldest() : undefined
  }

  /** The message this session sent alone (poison detection), if it did. */
  get isolatedRecord(): StoredRecord | undefined {
    return this.isolated
  }

  /** Sends until the connection ends; then waits for the dead letters it started to be written. */
  async run(): Promise<void> {
    try {
      await this.pump()
    } finally {
      this.deadline.stop()
      // A dead letter settles its slot once written: the next connection must start after that, or
      // it would send (and dead-letter) the record again.
      await Promise.allSettled(this.deadLettering)
    }
  }

  private async pump(): Promise<void> {
    const { host, signal } = this
    let readPos = host.position
    while (!signal.aborted) {
      const limit = host.isolating === undefined ? this.windowSize : 1
      const occupied = this.window.pushed - this.persistedRetired
      if (occupied >= limit) {
        await untilAborted(signal, (resolve) => {
          this.slotFree = resolve
        })
        continue
      }
      let records: StoredRecord[]
      try {
        records = await host.outbox.read(readPos, {
          maxRecords: Math.min(READ_BATCH, limit - occupied),
          maxBytes: READ_BYTES,
        })
      } catch (err) {
        host.log.warn({ err }, 'outbox read failed; retrying')
        await sleep(1000, signal).catch(() => undefined)
        continue
      }
      if (records.length === 0) {
        await host.outbox.waitForAppend(readPos, signal).catch(() => undefined)
        continue
      }
      for (const r of records) {
        if (signal.aborted) return
        readPos = r.seq
        const slot = this.window.push(r.seq)
        const out = this.prepare(r, slot)
        if (out === undefined) continue
        if (r.seq === host.isolating) {
          await sleep(ISOLATION_SETTLE_MS, signal).catch(() => undefined)
          if (signal.aborted) return
          this.isolated = r
        }
        if (host.limiter) {
          try {
            await host.limiter.take(signal)
          } catch {
            return
          }
        }
        this.publish(slot, r, out.topic, out.options)
      }
    }
  }

  /** What to publish for `r`, or undefined when its slot is settled (or being settled) without sending. */
  private prepare(
    r: StoredRecord,
    slot: number,
  ): { topic: string; options: IClientPublishOptions } | undefined {
    const { host } = this
    const topic = topicFor(r, host.name)
    if (topic === undefined) {
      host.counters.skipped++
      this.settle(slot)
      return undefined
    }
    const dead = host.deadLettered(r.seq)
    if (dead) {
      dead.then(
        () => this.settle(slot),
        () => undefined,
      )
      return undefined
    }
    const problem = upstreamTopicProblem(topic)
    if (problem !== undefined) {
      this.deadLetter(slot, r, 'bad-topic', problem)
      return undefined
    }
    const options: IClientPublishOptions = { qos: host.config.qos, retain: r.retain }
    if (this.v5) options.properties = { userProperties: this.identity(r) }
    if (this.maxPacketBytes !== undefined) {
      const over = this.overMaxPacket(topic, r, options)
      if (over !== undefined) {
        this.deadLetter(slot, r, 'too-large', over)
        return undefined
      }
    }
    return { topic, options }
  }

  private publish(slot: number, r: StoredRecord, topic: string, options: IClientPublishOptions): void {
    if (this.sentUnanswered++ === 0) this.deadline.restart()
    this.host.counters.sent++
    this.client.publish(
      topic,
      Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength),
      options,
      (err, packet) => this.answer(slot, r, err, packet),
    )
  }

  private answer(slot: number, r: StoredRecord, err: Error | undefined, packet: Packet | undefined): void {
    if (this.signal.aborted) return // the connection is over: resent from the cursor on the next one
    if (!err) {
      this.answered()
      this.host.counters.acked++
      this.settle(slot)
      return
    }
    const code = reasonCodeOf(err)
    if (code === undefined) return // not an answer: the connection is ending
    this.answered()
    const refusal = classifyRefusal(code, packet?.cmd.toUpperCase() ?? 'PUBACK')
    if (refusal.class === 'permanent') {
      this.deadLetter(slot, r, refusal.reason, refusal.text)
      return
    }
    this.host.refused(refusal)
    this.end(
      new GatewayError(
        'OUTPOST_UPSTREAM_REFUSED',
        `${refusal.text} for record ${r.seq}; resending after a backoff`,
        { canRetry: true },
      ),
    )
  }

  private answered(): void {
    this.host.answered()
    if (--this.sentUnanswered > 0) this.deadline.restart()
    else this.deadline.idle()
  }

  private deadLetter(slot: number, r: StoredRecord, reason: DeadLetterReason, detail: string): void {
    const written = this.host.deadLetter(r, reason, detail).then(
      () => this.settle(slot),
      () => undefined, // the outbox closed: not written, so sent again after the next start
    )
    this.deadLettering.add(written)
    written.then(() => this.deadLettering.delete(written))
  }

  private settle(slot: number): void {
    const moved = this.window.ack(slot)
    if (moved === undefined || moved <= this.host.position) return
    const retired = this.window.retired
    this.host.advance(moved).then(() => {
      if (retired > this.persistedRetired) this.persistedRetired = retired
      const wake = this.slotFree
      this.slotFree = undefined
      wake?.()
    })
  }

  /** The message's identity as MQTT 5 user properties (DESIGN.md "Delivery"). */
  private identity(r: StoredRecord): Record<string, string> {
    const props: Record<string, string> = {
      'outpost-gateway': this.host.gatewayId,
      'outpost-seq': String(r.seq),
      'outpost-ts': String(r.ts),
    }
    if (r.origin) {
      // A device sends many messages: check its id once, not per message.
      if (r.origin !== this.lastOrigin) {
        this.lastOrigin = r.origin
        this.originProblem = mqttStringProblem(r.origin)
      }
      if (this.originProblem === undefined) props['outpost-origin'] = r.origin
      else this.host.originOmitted(r, this.originProblem)
    }
    return props
  }

  /** Why the PUBLISH would exceed the upstream's Maximum Packet Size, if it would. */
  private overMaxPacket(topic: string, r: StoredRecord, options: IClientPublishOptions): string | undefined {
    const max = this.maxPacketBytes as number
    const payload = r.payload.byteLength
    // An upper bound first (UTF-16 units are at most 3 bytes of UTF-8; 128 covers the fixed parts and
    // the identity's keys and numbers): the exact size is counted only near the limit.
    const bound = payload + 3 * (topic.length + r.origin.length + this.host.gatewayId.length) + 128
    if (bound <= max) return undefined
    const userProperties = options.properties?.userProperties as Record<string, string> | undefined
    const bytes = publishPacketBytes(Buffer.byteLength(topic), payload, options.qos ?? 0, userProperties)
    if (bytes <= max) return undefined
    return `PUBLISH of ${bytes} bytes; the upstream takes at most ${max} (CONNACK Maximum Packet Size)`
  }
}

/** The record's topic for upstream `name`, or undefined when it is not routed there. */
export function topicFor(r: StoredRecord, name: string): string | undefined {
  if (r.to === 'all') return r.topic
  for (const d of r.to) if (d.upstream === name) return d.topic ?? r.topic
  return undefined
}

function untilAborted(signal: AbortSignal, register: (resolve: () => void) => void): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
    register(done)
  })
}
