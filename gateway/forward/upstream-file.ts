// The files an upstream's config names (TLS CA, certificate, key), read once at start: a missing or
// unreadable one fails the start with the upstream, the key and the path in the message.
import { readFileSync } from 'node:fs'
import { GatewayError } from '../errors.js'

/** The file's bytes, or undefined when the config names none. */
export function readUpstreamFile(
  file: string | undefined,
  what: string,
  upstream: string,
): Buffer | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (err) {
    throw new GatewayError(
      'OUTPOST_UPSTREAM_UNAVAILABLE',
      `upstream ${upstream}: cannot read ${what} ${file}: ${(err as Error).message}`,
      { cause: err },
    )
  }
}
