// Byte sizes in config: a whole number of bytes, or a string such as "512MiB", "1GiB", "64 kB".
// Binary (KiB, MiB, GiB, TiB) and decimal (kB, MB, GB, TB) units are both accepted, since people
// copy both from disk tools; "B" alone and no unit mean bytes.

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/

/** Parses a size; returns undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text)
  if (!m) return undefined
  const unit = (m[2] ?? '').toLowerCase() || 'b'
  const factor = UNITS[unit]
  if (factor === undefined) return undefined
  const value = Math.round(Number(m[1]) * factor)
  return Number.isSafeInteger(value) ? value : undefined
}

/** Formats a byte count for humans: 1073741824 → "1 GiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let i = 0
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024
    i++
  }
  const text = i === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '')
  return `${text} ${units[i]}`
}
