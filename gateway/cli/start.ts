// `outpost start [--config FILE]`: runs the gateway until SIGTERM/SIGINT. The first signal stops it
// gracefully (exit 0, or 1 if stopping failed); a second one exits at once. SIGHUP is logged and the
// config file checked again; the running gateway keeps its config (restart to apply a change). A start-up
// failure is one human line on stderr besides the JSON log, and a sysexits status (start-failure.ts).
// Under systemd (Type=notify) it tells systemd READY, WATCHDOG, STATUS and STOPPING (service/).
import { parseArgs } from 'node:util'
import { ConfigError } from '../../config/errors.js'
import { loadConfigIsolated } from '../../config/load-isolated.js'
import type { Config } from '../../config/schema.js'
import { Gateway } from '../gateway.js'
import { createLogger, type Logger } from '../logger.js'
import { SdNotify } from '../service/sd-notify.js'
import { ServiceNotifier } from '../service/service-notifier.js'
import { statusLine } from '../service/status-line.js'
import { CONFIG_SEARCH, findConfig } from './config-path.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'
import { preflight } from './preflight.js'
import { type StartFailure, startFailure } from './start-failure.js'

export const START_USAGE = `usage: outpost start [--config FILE]

Runs the gateway until SIGTERM or SIGINT (a second signal exits at once). The config is the first of:
${CONFIG_SEARCH}.
SIGHUP checks the config file again and logs the result; restart to apply a change.`

export async function startCommand(args: string[], io: CliIo): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined }
  try {
    ;({ values } = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }))
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${START_USAGE}`)
  }
  if (values.help) {
    println(io.stdout, START_USAGE)
    return EXIT.OK
  }
  const { file, from } = findConfig(values.config, io.env)

  let config: Config
  try {
    config = await loadConfigIsolated(file, { env: io.env })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    if (err.code === 'OUTPOST_CONFIG_UNREADABLE') {
      const why = err.problems[0]?.message.replace(/^cannot read config: /, '') ?? 'unreadable'
      println(
        io.stderr,
        `outpost: cannot start: config ${file} (${from}): ${why} — looked for: ${CONFIG_SEARCH}`,
      )
      return EXIT.NOINPUT
    }
    println(io.stderr, err.message)
    return EXIT.CONFIG // before any socket or file is opened
  }

  const logger = createLogger({ level: config.log.level, destination: io.stdout })
  logger.info({ config: file, from, node: process.version, arch: process.arch }, 'config loaded')
  const gateway = new Gateway({ config, logger })
  const sd = SdNotify.fromEnv({ env: io.env, logger: logger.child({ part: 'systemd' }) })
  const notifier = sd
    ? new ServiceNotifier({
        notify: sd,
        logger: logger.child({ part: 'systemd' }),
        status: async () => statusLine(await gateway.status()),
      })
    : undefined
  notifier?.startWatchdog()

  const failed = async (failure: StartFailure, err?: unknown): Promise<number> => {
    logger.fatal(
      { err, code: (err as { code?: string } | undefined)?.code, exit: failure.code },
      failure.line,
    )
    println(io.stderr, failure.line)
    await notifier?.stopped()
    logger.flush()
    return failure.code
  }

  const early = await preflight(config, file)
  if (early) return failed(early)

  let started = false
  let stopRequested = false
  let stopNow: () => void = () => {}
  const stopped = new Promise<number>((resolve) => {
    let signals = 0
    stopNow = () => {
      void notifier?.stopping()
      gateway.stop().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          logger.error({ err }, 'stopped with errors')
          resolve(EXIT.FAILURE)
        },
      )
    }
    const onSignal = (signal: NodeJS.Signals) => {
      signals++
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once')
        logger.flush()
        process.exit(EXIT.FAILURE)
      }
      logger.info({ signal }, 'stopping')
      // A stop while the gateway is still starting would race its start: stop once it has started.
      if (started) stopNow()
      else stopRequested = true
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    process.on('SIGHUP', () => void onHangup(file, io, logger))
  })

  try {
    await gateway.start()
  } catch (err) {
    return failed(startFailure(err, { config, file }), err)
  }
  started = true
  if (stopRequested) stopNow()
  else await notifier?.ready()
  const code = await stopped
  await notifier?.stopped()
  logger.flush()
  // Whatever still holds the event loop (a hung file system call) must not keep a stopped gateway alive.
  setTimeout(() => process.exit(code), 5000).unref()
  return code
}

/** SIGHUP: no reload (parts hold sockets and files opened from the config); say whether the file is fine. */
async function onHangup(file: string, io: CliIo, logger: Logger): Promise<void> {
  try {
    await loadConfigIsolated(file, { env: io.env })
    logger.warn(
      { signal: 'SIGHUP', config: file, configValid: true },
      'SIGHUP: the config is read at start only; it is valid: restart to apply it (systemctl restart outpost)',
    )
  } catch (err) {
    const problems =
      err instanceof ConfigError ? err.problems : [{ path: '', message: (err as Error).message }]
    logger.warn(
      { signal: 'SIGHUP', config: file, configValid: false, problems },
      'SIGHUP: the config is read at start only, and the file has problems now: a restart would fail',
    )
  }
}
