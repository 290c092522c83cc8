// Loads a config in a worker thread. The YAML parser, zod and the schema live in the worker's own V8
// isolate and go away with it, so the long-running gateway never holds them: measured on the
// development VM, a gateway that loaded its config this way idles at about 10 MiB less resident
// memory. Same result and errors as loadConfigFile (the config comes back frozen).
import { Worker } from 'node:worker_threads'
import { deepFreeze } from './deep-freeze.js'
import { ConfigError } from './errors.js'
import type { LoadOptions } from './load.js'
import type { LoadReply } from './load-worker.js'
import type { Config } from './schema.js'

export async function loadConfigIsolated(file: string, options: LoadOptions = {}): Promise<Config> {
  const { onWarning, ...rest } = options
  const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
    workerData: { file, options: { ...rest, env: rest.env ? { ...rest.env } : undefined } },
    // The worker only parses a file: a small heap is plenty.
    resourceLimits: { maxOldGenerationSizeMb: 64 },
  })
  const reply = await new Promise<LoadReply>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`the config loader exited (${code}) without an answer`)))
  })
  await worker.terminate()
  for (const w of reply.ok || !('crash' in reply) ? reply.warnings : []) onWarning?.(w)
  if (reply.ok) return deepFreeze(reply.config) as Config
  if ('crash' in reply) throw new Error(`loading ${file} failed: ${reply.crash}`)
  throw new ConfigError(reply.code, reply.file, reply.problems)
}
