// Resident memory of a process (VmRSS from /proc/PID/status), sampled on a timer, for tests and
// benchmarks that bound a gateway's memory. Linux only; a process that is gone reads as undefined.
import { readFileSync } from 'node:fs'

/** VmRSS of `pid` in bytes, or undefined when it cannot be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** RssAnon and RssFile of `pid` in bytes (heaps vs mapped files such as LevelDB's tables). */
export function rssParts(pid: number): { anon: number; file: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1]) * 1024
    return { anon: kb('RssAnon'), file: kb('RssFile') }
  } catch {
    return undefined
  }
}

export class RssSampler {
  peak = 0
  /** RssAnon and RssFile at the peak. */
  peakParts = { anon: 0, file: 0 }
  samples = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.sample()
    this.timer = setInterval(() => this.sample(), intervalMs)
  }

  /** Stops sampling; returns the peak in bytes. */
  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.peak
  }

  private sample(): void {
    const rss = rssBytes(this.pid)
    if (rss === undefined) return
    this.samples++
    if (rss > this.peak) {
      this.peak = rss
      this.peakParts = rssParts(this.pid) ?? this.peakParts
    }
  }
}
