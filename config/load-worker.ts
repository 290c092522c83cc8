// The worker side of load-isolated.ts: loads one config file and posts the result back (the validated
// config, or the ConfigError's parts, and the warnings on the way).
import { parentPort, workerData } from 'node:worker_threads'
import { ConfigError, type ConfigProblem } from './errors.js'
import { type LoadOptions, loadConfigFile } from './load.js'

export type LoadReply =
  | { ok: true; config: unknown; warnings: ConfigProblem[] }
  | {
      ok: false
      code: ConfigError['code']
      file: string
      problems: ConfigProblem[]
      warnings: ConfigProblem[]
    }
  | { ok: false; crash: string }

const { file, options } = workerData as { file: string; options: Omit<LoadOptions, 'onWarning'> }
const warnings: ConfigProblem[] = []
let reply: LoadReply
try {
  const config = loadConfigFile(file, { ...options, onWarning: (w) => warnings.push(w) })
  reply = { ok: true, config, warnings }
} catch (err) {
  reply =
    err instanceof ConfigError
      ? { ok: false, code: err.code, file: err.file, problems: [...err.problems], warnings }
      : { ok: false, crash: (err as Error).stack ?? String(err) }
}
parentPort?.postMessage(reply)
