// `outpost check-config FILE [--env]`: prints every problem with its path and exits 78, or "ok" and a
// one-line summary and exits 0. Opens no socket and no data file. Unset ${VAR}s are warnings (a config
// repo's CI has no secrets); with --env they are errors, as they are for `outpost start`. Files the
// config names (TLS) that this user cannot read are reported with their paths: warnings, or errors with
// --env (exit 66, as for a config file that cannot be read); a config no device could ever connect to
// is a warning.
import { ConfigError } from '../../config/errors.js'
import { loadConfigFile } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { formatSize } from '../../config/size.js'
import { fileProblems, usefulnessWarnings } from './config-files.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'

export async function checkConfigCommand(args: string[], io: CliIo): Promise<number> {
  const strictEnv = args.includes('--env')
  const files = args.filter((a) => a !== '--env')
  const file = files[0]
  if (file === undefined || files.length > 1 || file.startsWith('-')) {
    throw new UsageError('usage: outpost check-config FILE [--env]')
  }
  try {
    const config = loadConfigFile(file, {
      env: io.env,
      missingEnv: strictEnv ? 'error' : 'warn',
      onWarning: (p) =>
        println(io.stderr, `warning: ${p.path}: ${p.message} (outpost start would refuse it)`),
    })
    // Like unset variables: warnings where the files are not (a config repo's CI), errors with --env.
    const missing = fileProblems(config)
    if (missing.length > 0 && strictEnv) {
      println(io.stderr, ConfigError.describe(file, missing))
      return EXIT.NOINPUT
    }
    for (const p of missing) {
      println(io.stderr, `warning: ${p.path}: ${p.message} (outpost start would refuse it)`)
    }
    for (const w of usefulnessWarnings(config)) println(io.stderr, `warning: ${w}`)
    println(io.stdout, `ok: ${file}: ${summarize(config)}`)
    return EXIT.OK
  } catch (err) {
    if (err instanceof ConfigError) {
      println(io.stderr, err.message)
      return err.code === 'OUTPOST_CONFIG_UNREADABLE' ? EXIT.NOINPUT : EXIT.CONFIG
    }
    throw err
  }
}

export function summarize(config: Config): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  const listeners = config.broker.listeners.map((l) => `${l.type} ${l.host}:${l.port}`).join(', ')
  const upstreams = config.upstreams.map((u) => `${u.name} ${u.type}`).join(', ')
  const o = config.outbox
  return [
    `gateway ${config.gatewayId}`,
    `listeners ${listeners}`,
    `outbox ${o.durability} ${formatSize(o.maxBytes)} ${o.whenFull} in ${config.dataDir}`,
    config.upstreams.length
      ? `${plural(config.upstreams.length, 'upstream')} (${upstreams})`
      : 'no upstreams (buffering)',
    plural(config.routes.length, 'route'),
    plural(config.downlink.length, 'downlink'),
    plural(config.devices.serial.length, 'serial device'),
  ].join('; ')
}
