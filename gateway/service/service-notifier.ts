// What the gateway tells systemd (zigbee2mqtt's habits, lib/util/sd-notify.ts): WATCHDOG=1 at half of
// WATCHDOG_USEC from a timer on the event loop — a loop that is stuck sends nothing and systemd restarts
// the service — from before start-up on (opening a damaged outbox may take long); READY=1 once every part
// has started; STATUS= with the backlog, whenever it changed, every statusIntervalMs; STOPPING=1 when a
// stop begins.
import type { Logger } from '../logger.js'
import type { SdNotify } from './sd-notify.js'

export interface ServiceNotifierOptions {
  notify: SdNotify
  logger: Logger
  /** The current status line (statusLine(await gateway.status())). */
  status: () => Promise<string>
  statusIntervalMs?: number
}

export class ServiceNotifier {
  private watchdog: NodeJS.Timeout | undefined
  private statusTimer: NodeJS.Timeout | undefined
  private pinging = false
  private lastStatus = ''
  private readonly pending = new Set<Promise<void>>()

  constructor(private readonly opts: ServiceNotifierOptions) {}

  startWatchdog(): void {
    const interval = this.opts.notify.watchdogIntervalMs
    if (interval === undefined || this.watchdog) return
    this.opts.logger.info({ intervalMs: interval }, 'systemd watchdog: pinging')
    this.watchdog = setInterval(() => {
      // A helper still running after a whole interval is stuck itself: one at a time, never a pile.
      if (this.pinging) return
      this.pinging = true
      void this.track(this.opts.notify.send(['WATCHDOG=1'])).finally(() => {
        this.pinging = false
      })
    }, interval)
  }

  async ready(): Promise<void> {
    this.lastStatus = await this.statusText()
    await this.track(this.opts.notify.send(['READY=1', `STATUS=${this.lastStatus}`]))
    this.statusTimer = setInterval(() => void this.updateStatus(), this.opts.statusIntervalMs ?? 10_000)
    this.statusTimer.unref()
  }

  /** STOPPING=1; the watchdog keeps pinging until stopped() (a long drain is still a live loop). */
  async stopping(): Promise<void> {
    clearInterval(this.statusTimer)
    await this.track(this.opts.notify.send(['STOPPING=1', 'STATUS=stopping: draining the forwarders']))
  }

  /** Ends the timers and waits for messages still being sent. Idempotent. */
  async stopped(): Promise<void> {
    clearInterval(this.watchdog)
    clearInterval(this.statusTimer)
    this.watchdog = undefined
    await Promise.all([...this.pending])
  }

  private async updateStatus(): Promise<void> {
    const status = await this.statusText()
    if (status === this.lastStatus) return
    this.lastStatus = status
    await this.track(this.opts.notify.send([`STATUS=${status}`]))
  }

  private async statusText(): Promise<string> {
    try {
      return (await this.opts.status()).replaceAll('\n', ' ')
    } catch (err) {
      this.opts.logger.debug({ err }, 'no status for systemd')
      return this.lastStatus
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.pending.add(p)
    return p.finally(() => this.pending.delete(p))
  }
}
