// Compiled topic filters and templates (syntax in config/topic-pattern.ts). Filters are compiled once
// at start-up; matching a topic is a walk over its levels.
import { type FilterLevel, parseFilter, parseTemplate, type TemplatePart } from '../config/topic-pattern.js'

/** Returns the captures when `topic` matches, undefined otherwise. */
export type Matcher = (topic: string) => string[] | undefined

export function compileFilter(filter: string, gatewayId: string): Matcher {
  const parsed = parseFilter(filter)
  if (!parsed.ok) throw new Error(`invalid topic filter "${filter}": ${parsed.error}`)
  const levels: readonly FilterLevel[] = parsed.value
  const startsWithWildcard = levels[0]?.kind === 'plus' || levels[0]?.kind === 'hash'
  return (topic) => {
    // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with "$".
    if (startsWithWildcard && topic.startsWith('$')) return undefined
    const parts = topic.split('/')
    const captures: string[] = []
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i] as FilterLevel
      if (level.kind === 'hash') {
        // [MQTT-4.7.1-2] "#" also matches the parent level: "a/#" matches "a".
        captures.push(parts.slice(i).join('/'))
        return captures
      }
      const part = parts[i]
      if (part === undefined) return undefined
      if (level.kind === 'plus') captures.push(part)
      else if (level.kind === 'gatewayId') {
        if (part !== gatewayId) return undefined
        captures.push(part)
      } else if (level.text !== part) return undefined
    }
    return parts.length === levels.length ? captures : undefined
  }
}

export interface TemplateContext {
  topic: string
  origin: string
  captures: readonly string[]
}

export type Renderer = (ctx: TemplateContext) => string

export function compileTemplate(
  template: string,
  captures: number,
  gatewayId: string,
  kind: 'topic' | 'key' = 'topic',
): Renderer {
  const parsed = parseTemplate(template, captures, kind)
  if (!parsed.ok) throw new Error(`invalid template "${template}": ${parsed.error}`)
  const parts: readonly TemplatePart[] = parsed.value
  if (parts.length === 1 && parts[0]?.kind === 'topic') return (ctx) => ctx.topic
  return (ctx) => {
    let out = ''
    for (const p of parts) {
      switch (p.kind) {
        case 'text':
          out += p.text
          break
        case 'topic':
          out += ctx.topic
          break
        case 'gatewayId':
          out += gatewayId
          break
        case 'origin':
          out += ctx.origin
          break
        case 'capture':
          out += ctx.captures[p.index - 1] ?? ''
          break
      }
    }
    return out
  }
}
