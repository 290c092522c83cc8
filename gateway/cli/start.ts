// `outpost start [--config FILE]`: runs the gateway until SIGTERM/SIGINT. The first signal stops it
// gracefully (exit 0, or 1 if stopping failed); a second one exits at once.
import { parseArgs } from 'node:util'
import { ConfigError } from '../../config/errors.js'
import { loadConfigFile } from '../../config/load.js'
import { isOutboxError } from '../../store/errors.js'
import { Gateway } from '../gateway.js'
import { createLogger } from '../logger.js'
import { type CliIo, EXIT, println, UsageError } from './io.js'

export const DEFAULT_CONFIG = 'config/default.yaml'

export async function startCommand(args: string[], io: CliIo): Promise<number> {
  let file: string
  try {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true })
    file = values.config ?? DEFAULT_CONFIG
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: outpost start [--config FILE]`)
  }

  let config: ReturnType<typeof loadConfigFile>
  try {
    config = loadConfigFile(file, { env: io.env })
  } catch (err) {
    if (err instanceof ConfigError) {
      println(io.stderr, err.message)
      return EXIT.CONFIG // before any socket or file is opened
    }
    throw err
  }

  const logger = createLogger({ level: config.log.level, destination: io.stdout })
  const gateway = new Gateway({ config, logger })
  const stopped = new Promise<number>((resolve) => {
    let signals = 0
    const onSignal = (signal: NodeJS.Signals) => {
      signals++
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once')
        logger.flush()
        process.exit(EXIT.FAILURE)
      }
      logger.info({ signal }, 'stopping')
      gateway.stop().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          logger.error({ err }, 'stopped with errors')
          resolve(EXIT.FAILURE)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })

  try {
    await gateway.start()
  } catch (err) {
    logger.fatal({ err, code: (err as { code?: string }).code }, 'gateway failed to start')
    logger.flush()
    return isOutboxError(err, 'OUTPOST_OUTBOX_LOCKED') ? EXIT.TEMPFAIL : EXIT.FAILURE
  }
  const code = await stopped
  logger.flush()
  return code
}
