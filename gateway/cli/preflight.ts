// Checks `outpost start` makes before it opens any socket: the files the config names can be read, and
// the data dir can be created and written (a file is created and removed there). Each failure is one
// human line and a sysexits status (start-failure.ts).
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../../config/schema.js'
import { makeDir } from '../../store/make-dir.js'
import { fileProblems } from './config-files.js'
import { dataDirFailure, fileFailure, type StartFailure } from './start-failure.js'

export async function preflight(config: Config, file: string): Promise<StartFailure | undefined> {
  const where = { config, file }
  const [problem] = fileProblems(config)
  if (problem) return fileFailure(problem.path, problem.message, where)
  try {
    await makeDir(config.dataDir)
    const probe = join(config.dataDir, `.outpost-write-test-${process.pid}`)
    const handle = await open(probe, 'wx')
    await handle.close()
    await unlink(probe)
  } catch (err) {
    return dataDirFailure(err, where)
  }
  return undefined
}
