// Backpressure for one client connection (issue #7, item 4): its publish limits (a token bucket for
// messages and one for bytes) and its share of the ingest bound (PendingBytes).
//
// How it stops reading from a client: aedes parses a whole socket read at once, hands every packet in
// it to its handlers together, and reads the socket again only when all of them called back
// (Client._parsingBatch / nextBatch). So holding back the callback of a publish (aedes's authorizePublish
// `done`) holds the next read: the socket's buffer fills, the kernel's fills, and TCP's window closes
// on the device — QoS 0 included. (aedes's own Client.pause() would drop the callbacks that arrive
// while paused — nextBatch returns before counting them — and stall the connection for good.)
//
// One more thing keeps aedes from reading: its 'readable' listener (nextBatch) counts every 'readable'
// event as a finished packet, so a client whose reads carry one packet each would be read on while held.
// The broker routes 'readable' through readable() below: swallowed while callbacks are held, replayed
// once when they go.
//
// A client is held back while (a) its buckets are in debt — each publish takes its tokens on arrival,
// so debt = what it sent beyond its rate and burst, and the hold lasts until it is repaid — or (b) its
// next read, if as large as its largest, would take the ingest bound over (a device publishing a reading
// at a time always fits; a flood's 64 KB reads wait their turn). Held clients wait for room first come,
// first served. Callbacks are released in order (PUBACKs keep the order of the PUBLISHes [MQTT-4.6.0-2]).
import type { LimitsConfig } from '../../config/schema.js'
import type { PendingBytes } from '../pending-bytes.js'
import { TokenBucket } from './token-bucket.js'

export type Limits = Readonly<LimitsConfig>

/** A read of at most 1/64 of maxPendingBytes (128 KiB of the default 8 MiB) is never held for room. */
const SMALL_READ_SHARE = 64
/** How long room stays reserved for a client let go to read (see reserve). */
const RESERVE_MS = 50
type Done = (err?: Error | null) => void

export type HoldCause = 'rate' | 'pending'

export interface ThrottleEvents {
  /** The client is held back (it was not). */
  held(cause: HoldCause): void
  /** It may go on. */
  released(): void
}

export class ClientThrottle {
  private readonly messages: TokenBucket | undefined
  private readonly bytes: TokenBucket | undefined
  private readonly maxThrottledMs: number
  /** Until when (clock ms) its buckets hold it back; 0 when they don't. */
  private blockedUntil = 0
  /** Since when it has been held back by its limits without resting; 0 when it isn't. */
  private throttledSince = 0
  private held: Done[] = []
  private timer: NodeJS.Timeout | undefined
  private waitingForRoom = false
  /** Bytes it appended that have not settled, and the most of them at once since it had none. */
  private inflight = 0
  private batch = 0
  /**
   * The largest batch it ever had. A read is judged by this, not by the last one: a flooder's reads are
   * as large as what is buffered on its socket, so one small read (its writer was slow for a moment)
   * says nothing of the next, and four flooders let go on small last reads took the bound ×9 at once.
   */
  private peak = 0
  /** The batch it was held with: the room it waits for. */
  private heldBatch = 0
  /** Room reserved (PendingBytes.reserved) for the read it was let go to do, until that read comes. */
  private reserved = 0
  private reserveTimer: NodeJS.Timeout | undefined
  private closed = false
  /** aedes's 'readable' listener, when an event was swallowed while held. */
  private deferredRead: (() => void) | undefined

  constructor(
    limits: Limits,
    private readonly pending: PendingBytes,
    private readonly clock: () => number,
    private readonly events: ThrottleEvents,
    /** It has been over its limits longer than maxThrottledSec (while held): disconnect it. */
    private readonly onOverstay: () => void,
  ) {
    const now = clock()
    this.messages =
      limits.messagesPerSec > 0
        ? new TokenBucket(limits.messagesPerSec, Math.max(1, limits.messagesPerSec * limits.burstSec), now)
        : undefined
    this.bytes =
      limits.bytesPerSec > 0
        ? new TokenBucket(limits.bytesPerSec, limits.bytesPerSec * limits.burstSec, now)
        : undefined
    this.maxThrottledMs = limits.maxThrottledSec * 1000
  }

  /**
   * A publish of `bytes` (topic and payload) arrived: it takes its tokens. Returns false when the client
   * has been over its limits without a pause for longer than maxThrottledSec: disconnect it.
   */
  admit(bytes: number): boolean {
    const messages = this.messages
    const bucket = this.bytes
    if (messages === undefined && bucket === undefined) return true
    const now = this.clock()
    if (this.throttledSince !== 0) {
      // Over its limits since then: it stays "throttled" until it lets its buckets refill.
      if ((messages?.rested(now) ?? true) && (bucket?.rested(now) ?? true)) this.throttledSince = 0
      else if (this.maxThrottledMs > 0 && now - this.throttledSince > this.maxThrottledMs) return false
    }
    const a = messages === undefined ? 0 : messages.take(1, now)
    const b = bucket === undefined ? 0 : bucket.take(bytes, now)
    const wait = Math.max(a, b)
    if (wait > 0) {
      if (now + wait > this.blockedUntil) this.blockedUntil = now + wait
      if (this.throttledSince === 0) this.throttledSince = now
    }
    return true
  }

  /** It appended `size` pending bytes (pendingSize) to the outbox. */
  appended(size: number): void {
    if (this.reserved !== 0) this.unreserve()
    this.inflight += size
    if (this.inflight > this.batch) this.batch = this.inflight
    if (this.batch > this.peak) this.peak = this.batch
  }

  /**
   * A publish is done with (its append settled — `settled` is its pending size — or it stayed local):
   * hands `done` to aedes now, or once the client may go on.
   */
  release(done: Done, settled: number): void {
    const batch = this.batch === 0 ? 0 : this.peak
    this.settle(settled)
    if (this.held.length === 0 && !this.closed) {
      if (this.blockedUntil !== 0 && this.blockedUntil <= this.clock()) this.blockedUntil = 0
      if (this.blockedUntil === 0 && this.hasRoom(batch)) {
        // Its last publish done: aedes reads its next chunk now or when it arrives.
        if (this.inflight === 0 && batch !== 0) this.reserve(batch)
        done(null)
        return
      }
      this.held.push(done)
      this.heldBatch = batch
      this.events.held(this.blockedUntil !== 0 ? 'rate' : 'pending')
      this.schedule()
      return
    }
    if (this.closed) done(null)
    else this.held.push(done)
  }

  /** A 'readable' event of the client's socket: `read` (aedes's listener) now, or once it may go on. */
  readable(read: () => void): void {
    if (this.held.length > 0 && !this.closed) this.deferredRead = read
    else read()
  }

  /** An append of `size` settled (or was refused) without a callback to pass on. */
  settle(size: number): void {
    if (size === 0) return
    this.inflight -= size
    if (this.inflight === 0) this.batch = 0
  }

  /**
   * Whether a read as large as `batch` fits under the ingest bound. An empty queue takes any read, and
   * small reads always go: a device publishing a reading at a time is not what fills the queue, and
   * must not wait behind those that do.
   */
  private hasRoom(batch: number): boolean {
    if (this.small(batch)) return true
    const taken = this.pending.bytes + this.pending.reserved
    return taken === 0 || taken + batch <= this.pending.max
  }

  private small(batch: number): boolean {
    return batch <= this.pending.max / SMALL_READ_SHARE
  }

  /**
   * Its next read comes at once when its bytes are already buffered, else when they arrive: a client
   * with more waiting is read within milliseconds, so the room is kept that long only.
   */
  private reserve(batch: number): void {
    if (this.small(batch)) return
    if (this.reserved !== 0) this.unreserve()
    this.reserved = batch
    this.pending.reserved += batch
    this.reserveTimer = setTimeout(this.unreserve, RESERVE_MS)
    this.reserveTimer.unref()
  }

  private readonly unreserve = (): void => {
    clearTimeout(this.reserveTimer)
    this.reserveTimer = undefined
    this.pending.reserved -= this.reserved
    this.reserved = 0
  }

  /** The connection closed: what was held goes on (aedes finds the client gone), timers stop. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.reserved !== 0) this.unreserve()
    if (this.held.length > 0) this.flush()
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.waitingForRoom) return
    if (this.blockedUntil !== 0) {
      const now = this.clock()
      const wait = this.blockedUntil - now
      if (wait > 0) {
        // A debt longer than it may stay throttled: it goes when that time is up, not after the debt.
        const left = this.throttledSince + this.maxThrottledMs - now
        const overstays = this.maxThrottledMs > 0 && this.throttledSince !== 0 && left < wait
        this.timer = overstays
          ? setTimeout(this.overstayed, Math.max(0, Math.ceil(left)))
          : setTimeout(this.wake, Math.ceil(wait))
        return
      }
      this.blockedUntil = 0
    }
    if (!this.hasRoom(this.heldBatch)) {
      this.waitingForRoom = true
      this.pending.whenBelow(this.roomMade)
      return
    }
    this.flush()
  }

  private readonly wake = (): void => {
    this.timer = undefined
    this.schedule()
  }

  private readonly overstayed = (): void => {
    this.timer = undefined
    if (!this.closed) this.onOverstay()
  }

  /** Its turn in the queue for room: it goes now (re-checking would send it to the back of the queue). */
  private readonly roomMade = (): void => {
    this.waitingForRoom = false
    if (!this.closed) this.flush()
  }

  private flush(): void {
    const held = this.held
    this.held = []
    this.events.released()
    if (this.inflight === 0 && this.heldBatch !== 0 && !this.closed) this.reserve(this.heldBatch)
    for (const done of held) done(null)
    const read = this.deferredRead
    this.deferredRead = undefined
    if (read !== undefined && !this.closed) read()
  }
}

/** broker.limits with a user's overrides. */
export function limitsFor(defaults: Limits, overrides: Partial<Limits> | undefined): Limits {
  if (overrides === undefined) return defaults
  return {
    messagesPerSec: overrides.messagesPerSec ?? defaults.messagesPerSec,
    bytesPerSec: overrides.bytesPerSec ?? defaults.bytesPerSec,
    burstSec: overrides.burstSec ?? defaults.burstSec,
    maxThrottledSec: overrides.maxThrottledSec ?? defaults.maxThrottledSec,
  }
}
