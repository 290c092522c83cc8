// The acknowledgement deadline of one connection (upstreams[].ackTimeoutMs, issue #7 item 3): the oldest
// message in flight must be answered within timeoutMs of becoming the oldest, else `expired` runs (the
// forwarder reports the upstream stalled and reconnects). MQTT brokers answer in the order they received
// [MQTT-4.6.0-2], so every answer makes the next message the oldest.
//
// One timer per connection, never one per message: an answer only notes the time (restart), and the
// timer, when it fires, re-arms itself for whatever is left.

export class AckDeadline {
  private since = 0
  private waiting = false
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly timeoutMs: number,
    private readonly expired: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The oldest message in flight is a new one (sent into an empty window, or its elder was answered). */
  restart(): void {
    this.since = this.now()
    this.waiting = true
    if (this.timer === undefined) this.arm(this.timeoutMs)
  }

  /** Nothing is in flight. */
  idle(): void {
    this.waiting = false
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.waiting = false
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms)
  }

  private fire(): void {
    this.timer = undefined
    if (!this.waiting) return
    const left = this.since + this.timeoutMs - this.now()
    if (left > 0) {
      this.arm(left)
      return
    }
    this.waiting = false
    this.expired()
  }
}
