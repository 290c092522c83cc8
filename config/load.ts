// Loading a config: read the YAML, substitute ${VAR} from the environment, validate against the schema,
// report every problem at once with its path, then freeze. Nothing here opens a socket or a data file.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { parseDocument } from 'yaml'
import type { z } from 'zod'
import { deepFreeze } from './deep-freeze.js'
import { ConfigError, type ConfigProblem } from './errors.js'
import { type Config, configSchema } from './schema.js'

export interface LoadOptions {
  /** Where ${VAR} values come from; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>
  /**
   * The gateway id used when the config sets none (tests, embedders). Without it, a config with
   * upstreams must set gatewayId — it names this gateway upstream, and the host name of every stock Pi
   * is "raspberrypi" — and one without upstreams is known by the host name (in logs and status only).
   */
  defaultGatewayId?: string
  /**
   * An unset ${VAR} is an error by default (start must not run without its secrets). With 'warn' it is
   * reported through onWarning and left as written, so a file can be checked where its secrets are not.
   */
  missingEnv?: 'error' | 'warn'
  onWarning?: (problem: ConfigProblem) => void
}

export function loadConfigFile(file: string, options: LoadOptions = {}): Config {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String((err as Error).message)
    throw new ConfigError(
      'OUTPOST_CONFIG_UNREADABLE',
      file,
      [{ path: '', message: `cannot read config: ${reason}` }],
      {
        cause: err,
      },
    )
  }
  return parseConfigText(text, file, options)
}

export function parseConfigText(text: string, file: string, options: LoadOptions = {}): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      return {
        path: '',
        message: pos ? `line ${pos.line}, column ${pos.col}: ${firstLine(e.message)}` : e.message,
      }
    })
    throw new ConfigError('OUTPOST_CONFIG_INVALID', file, problems)
  }
  const raw: unknown = doc.toJS() ?? {}
  return validateConfig(raw, file, options)
}

export function validateConfig(raw: unknown, file: string, options: LoadOptions = {}): Config {
  const problems: ConfigProblem[] = []
  const envProblems: ConfigProblem[] = []
  const substituted = substituteEnv(
    raw,
    [],
    options.env ?? process.env,
    envProblems,
    options.missingEnv === 'warn',
  )
  if (options.missingEnv === 'warn') for (const p of envProblems) options.onWarning?.(p)
  else problems.push(...envProblems)
  const result = configSchema.safeParse(substituted, { reportInput: true })
  if (!result.success) problems.push(...result.error.issues.flatMap(toProblems))
  if (options.defaultGatewayId === undefined) problems.push(...gatewayIdProblems(substituted))
  if (problems.length > 0 || !result.success) {
    throw new ConfigError('OUTPOST_CONFIG_INVALID', file, problems)
  }
  const gatewayId = result.data.gatewayId ?? sanitizeHostname(options.defaultGatewayId ?? hostname())
  return deepFreeze({ ...result.data, gatewayId })
}

/** [#10] No silent identity: upstreams see the gateway id in every message and address commands to it. */
function gatewayIdProblems(raw: unknown): ConfigProblem[] {
  const root = (raw ?? {}) as { gatewayId?: unknown; upstreams?: unknown }
  if (root.gatewayId !== undefined || !Array.isArray(root.upstreams) || root.upstreams.length === 0) return []
  return [
    {
      path: 'gatewayId',
      message:
        'required when upstreams are configured: it names this gateway upstream (message identity, ' +
        '{gatewayId} in topics and downlink commands) and must differ per gateway, e.g. "gatewayId: pi-barn-01"',
    },
  ]
}

const VAR_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** `${VAR}` and `${VAR:-default}` in string values; `$$` is a literal `$`. Keys are left alone. */
function substituteEnv(
  value: unknown,
  path: (string | number)[],
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
  keepUnset: boolean,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('$')) return value
    return value.replace(VAR_RE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$'
      const v = env[name as string]
      if (v !== undefined && v !== '') return v
      if (fallback !== undefined) return fallback
      problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` })
      return keepUnset ? whole : ''
    })
  }
  if (Array.isArray(value))
    return value.map((v, i) => substituteEnv(v, [...path, i], env, problems, keepUnset))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value))
      out[k] = substituteEnv(v, [...path, k], env, problems, keepUnset)
    return out
  }
  return value
}

function toProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: 'unknown key (check its spelling and indentation)',
    }))
  }
  if (issue.code === 'invalid_union') {
    if (issue.errors.length > 0) {
      // Report the branch that got furthest rather than a bare "invalid input".
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? []
      return best.flatMap((i) => toProblems({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue))
    }
    if (issue.discriminator) {
      const path =
        issue.path.at(-1) === issue.discriminator ? issue.path : [...issue.path, issue.discriminator]
      return [{ path: formatPath(path), message: issue.message }]
    }
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ path: formatPath(issue.path), message: `required (expected ${issue.expected})` }]
  }
  return [{ path: formatPath(issue.path), message: issue.message }]
}

/** ['upstreams', 1, 'brokers'] → "upstreams[1].brokers" */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out ? `.${String(part)}` : String(part)
  }
  return out
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text
}

function sanitizeHostname(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '')
  return clean || 'outpost'
}
