// Topic templates of serial devices (`devices.serial[].topic`): validated here by the schema, compiled
// here by the gateway, which hands the adapter the compiled function (devices/ imports config types only).
//
//   template    = 1*( text / placeholder )
//   placeholder = "{device}" / "{gatewayId}" / "{json." path "}" / "{unit}"
//   path        = key *( "." key )          ; a field of the frame's JSON, e.g. {json.id}, {json.meta.site}
//   key         = 1*( ALPHA / DIGIT / "_" / "-" )
//   text        = any characters but "{", "}", "+", "#" and NUL
//
// {json.…} is for framings that publish JSON (json-lines, nmea, modbus-rtu). A field must be a non-empty
// string, a number or a boolean without "/", "+", "#" or NUL: it fills part of one topic level, never
// more. {unit} is modbus-rtu's slave address, short for {json.unit}.

export type DeviceTopicPart =
  | { kind: 'text'; text: string }
  | { kind: 'device' }
  | { kind: 'gatewayId' }
  | { kind: 'json'; path: readonly string[] }

export type DeviceTopicParse = { ok: true; value: DeviceTopicPart[] } | { ok: false; error: string }

/** Framings whose frames are JSON, so their topic may use {json.…}. */
export const JSON_FRAMINGS: ReadonlySet<string> = new Set(['json-lines', 'nmea', 'modbus-rtu'])

const PLACEHOLDER_RE = /\{([^{}]*)\}/g
const PATH_RE = /^json\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$/

export function parseDeviceTopic(template: string, framing: string): DeviceTopicParse {
  const parts: DeviceTopicPart[] = []
  let last = 0
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const start = m.index ?? 0
    if (start > last) parts.push({ kind: 'text', text: template.slice(last, start) })
    last = start + m[0].length
    const name = m[1] ?? ''
    const path = PATH_RE.exec(name)
    if (name === 'device' || name === 'gatewayId') {
      parts.push({ kind: name })
    } else if (name === 'unit') {
      if (framing !== 'modbus-rtu') {
        return { ok: false, error: `{unit} is for framing modbus-rtu; this device uses "${framing}"` }
      }
      parts.push({ kind: 'json', path: ['unit'] })
    } else if (path) {
      if (!JSON_FRAMINGS.has(framing)) {
        return {
          ok: false,
          error: `{${name}} needs a framing that publishes JSON (json-lines, nmea or modbus-rtu); this device uses "${framing}"`,
        }
      }
      parts.push({ kind: 'json', path: (path[1] as string).split('.') })
    } else {
      return {
        ok: false,
        error: `unknown placeholder {${name}}; use {device}, {gatewayId}, {json.FIELD} (json-lines, nmea, modbus-rtu) or {unit} (modbus-rtu)`,
      }
    }
  }
  if (last < template.length) parts.push({ kind: 'text', text: template.slice(last) })
  for (const p of parts) {
    if (p.kind !== 'text') continue
    if (p.text.includes('{') || p.text.includes('}')) {
      return { ok: false, error: `unbalanced brace in topic "${template}"` }
    }
    if (p.text.includes('+') || p.text.includes('#') || p.text.includes('\u0000')) {
      return { ok: false, error: `a device topic must not contain "+", "#" or NUL ("${template}")` }
    }
  }
  return { ok: true, value: parts }
}

/** Renders a frame's topic from its JSON (undefined when a field is missing or unfit for a topic). */
export type DeviceTopic = (json: unknown) => string | undefined

export function compileDeviceTopic(
  template: string,
  framing: string,
  context: { device: string; gatewayId: string },
): DeviceTopic {
  const parsed = parseDeviceTopic(template, framing)
  if (!parsed.ok) throw new Error(parsed.error) // the schema refused it already
  const parts = parsed.value
  if (parts.every((p) => p.kind !== 'json')) {
    const constant = render(parts, context, undefined) as string
    return () => constant
  }
  return (json) => render(parts, context, json)
}

function render(
  parts: readonly DeviceTopicPart[],
  context: { device: string; gatewayId: string },
  json: unknown,
): string | undefined {
  let out = ''
  for (const p of parts) {
    if (p.kind === 'text') out += p.text
    else if (p.kind === 'device') out += context.device
    else if (p.kind === 'gatewayId') out += context.gatewayId
    else {
      const value = field(json, p.path)
      if (value === undefined) return undefined
      out += value
    }
  }
  return out
}

function field(json: unknown, path: readonly string[]): string | undefined {
  let v: unknown = json
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
    v = (v as Record<string, unknown>)[key]
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return undefined
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined
  const s = String(v)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing NUL is the point
  if (s.length === 0 || /[/+#\u0000]/.test(s)) return undefined
  return s
}
