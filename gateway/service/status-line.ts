// The one-line STATUS= systemd shows in `systemctl status outpost`: each upstream's state and backlog,
// and what the outbox holds.
import { formatSize } from '../../config/size.js'
import type { GatewayStatus } from '../gateway.js'

export function statusLine(status: GatewayStatus): string {
  const o = status.outbox
  const cursors = new Map(o.cursors.map((c) => [c.name, c]))
  const parts = status.upstreams.map((u) => {
    const c = cursors.get(u.name)
    const behind = c ? c.backlogMessages : 0
    const detail =
      c && behind > 0 ? ` (${formatSize(c.backlogBytes)}, oldest ${formatAge(c.oldestAgeMs)})` : ''
    return `${u.name} ${u.state}, ${behind} behind${detail}`
  })
  const held = `outbox ${o.messages} readings, ${formatSize(o.bytes)} of ${formatSize(o.maxBytes)}`
  const dead = o.deadLetters.messages > 0 ? `, ${o.deadLetters.messages} dead letters` : ''
  if (parts.length === 0) return `no upstream configured (buffering); ${held}${dead}`
  return `${parts.join('; ')}; ${held}${dead}`
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}
