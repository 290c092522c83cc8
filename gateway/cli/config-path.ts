// Which config `outpost start` runs on, first found wins: --config FILE, $OUTPOST_CONFIG, the installed
// /etc/outpost/outpost.yaml, then (in a checkout) config/default.yaml of the package. So the installed
// command works from any directory, and a checkout still starts with no arguments.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const INSTALLED_CONFIG = '/etc/outpost/outpost.yaml'
/** config/default.yaml of the package this runs from (dist/gateway/cli/ or, in tests, gateway/cli/). */
export const CHECKOUT_CONFIG = join(packageRoot(), 'config', 'default.yaml')

export interface ConfigChoice {
  file: string
  /** How it was chosen, for the log and for a message when it cannot be read. */
  from: '--config' | 'OUTPOST_CONFIG' | 'installed' | 'checkout'
}

export function findConfig(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  exists: (file: string) => boolean = existsSync,
): ConfigChoice {
  if (flag !== undefined) return { file: flag, from: '--config' }
  const fromEnv = env.OUTPOST_CONFIG
  if (fromEnv) return { file: fromEnv, from: 'OUTPOST_CONFIG' }
  if (exists(INSTALLED_CONFIG)) return { file: INSTALLED_CONFIG, from: 'installed' }
  return { file: CHECKOUT_CONFIG, from: 'checkout' }
}

export const CONFIG_SEARCH = `--config FILE, then $OUTPOST_CONFIG, then ${INSTALLED_CONFIG}, then config/default.yaml of a checkout`

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir)
  return dir
}
