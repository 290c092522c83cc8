// What the gateway process itself costs: memory (the budget of a small Pi) and bytes it caused to be
// written to storage (the SD card's wear), for /api/status and /metrics.
import { readFile } from 'node:fs/promises'

export interface ProcessStats {
  rssBytes: number
  heapUsedBytes: number
  /**
   * Bytes this process caused to be written to storage (Linux /proc/self/io write_bytes: the outbox's
   * log, tables and compactions), or null where that can't be read.
   */
  writtenBytes: number | null
}

export async function processStats(): Promise<ProcessStats> {
  const memory = process.memoryUsage()
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, writtenBytes: await writtenBytes() }
}

async function writtenBytes(): Promise<number | null> {
  try {
    const io = await readFile('/proc/self/io', 'utf8')
    const m = /^write_bytes:\s*(\d+)$/m.exec(io)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}
