// Syntax of the topic filters and templates used in `routes` and `downlink`.
//
// A filter is an MQTT topic filter [MQTT-4.7.1] that may also contain `{gatewayId}` as a whole level.
// Its *captures* are numbered from 1 in the order of its non-literal levels: each `+`, a trailing `#`
// (captured as the remaining levels joined by "/"), and each `{gatewayId}` level. So for
// `commands/{gatewayId}/#`, {1} is the gateway id and {2} the rest of the topic; for
// `sensors/+/telemetry`, {1} is the second level.
//
// A template is text with placeholders: {topic} (the incoming topic), {gatewayId}, {origin} (client
// id or device name) and {1}, {2}, … (captures of the filter it goes with).

import { textProblem } from './topic-chars.js'

export type FilterLevel =
  | { kind: 'literal'; text: string }
  | { kind: 'plus' }
  | { kind: 'hash' }
  | { kind: 'gatewayId' }

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'topic' }
  | { kind: 'gatewayId' }
  | { kind: 'origin' }
  | { kind: 'capture'; index: number }

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string }

export function parseFilter(filter: string): Parsed<FilterLevel[]> {
  if (filter.length === 0) return { ok: false, error: 'a topic filter must not be empty' }
  if (filter.includes('\u0000')) return { ok: false, error: 'a topic filter must not contain NUL' }
  const parts = filter.split('/')
  const levels: FilterLevel[] = []
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    if (part === '#') {
      // [MQTT-4.7.1-2] '#' must be the last character and stand alone in its level.
      if (i !== parts.length - 1) return { ok: false, error: `"#" must be the last level (in "${filter}")` }
      levels.push({ kind: 'hash' })
    } else if (part === '+') {
      levels.push({ kind: 'plus' })
    } else if (part === '{gatewayId}') {
      levels.push({ kind: 'gatewayId' })
    } else if (part.includes('#') || part.includes('+')) {
      // [MQTT-4.7.1-3] '+' must occupy an entire level.
      return { ok: false, error: `wildcards "+" and "#" must fill a whole level (in "${filter}")` }
    } else if (part.includes('{') || part.includes('}')) {
      return { ok: false, error: `only {gatewayId} may stand in a filter level (in "${filter}")` }
    } else {
      levels.push({ kind: 'literal', text: part })
    }
  }
  return { ok: true, value: levels }
}

export function captureCount(levels: readonly FilterLevel[]): number {
  return levels.filter((l) => l.kind !== 'literal').length
}

const PLACEHOLDER_RE = /\{([^{}]*)\}/g

export function parseTemplate(
  template: string,
  captures: number,
  kind: 'topic' | 'key' = 'topic',
): Parsed<TemplatePart[]> {
  const parts: TemplatePart[] = []
  let last = 0
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const start = m.index ?? 0
    if (start > last) parts.push({ kind: 'text', text: template.slice(last, start) })
    last = start + m[0].length
    const name = m[1] ?? ''
    if (name === 'topic' || name === 'gatewayId' || name === 'origin') {
      parts.push({ kind: name })
    } else if (/^[1-9][0-9]*$/.test(name)) {
      const index = Number(name)
      if (index > captures) {
        return {
          ok: false,
          error: `{${name}} refers to capture ${index} but the filter has ${captures} capture${captures === 1 ? '' : 's'}`,
        }
      }
      parts.push({ kind: 'capture', index })
    } else {
      return {
        ok: false,
        error: `unknown placeholder {${name}}; use {topic}, {gatewayId}, {origin} or {1}, {2}, … for filter captures`,
      }
    }
  }
  if (last < template.length) parts.push({ kind: 'text', text: template.slice(last) })
  const rest = parts.filter((p) => p.kind === 'text').map((p) => (p as { text: string }).text)
  if (rest.some((t) => t.includes('{') || t.includes('}'))) {
    return { ok: false, error: `unbalanced brace in template "${template}"` }
  }
  if (kind === 'topic' && rest.some((t) => t.includes('+') || t.includes('#'))) {
    return { ok: false, error: `a topic template must not contain wildcards "+" or "#" ("${template}")` }
  }
  // The characters an upstream refuses in a topic (config/topic-chars.ts) [MQTT-1.5.3].
  const bad = kind === 'topic' ? rest.map(textProblem).find((p) => p !== undefined) : undefined
  if (bad !== undefined) return { ok: false, error: `${bad} in topic template "${template}"` }
  return { ok: true, value: parts }
}
