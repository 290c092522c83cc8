// `mkdir -p` with a bounded walk. Node's own `mkdir(dir, { recursive: true })` never returns for a path
// under /proc (mkdir there says ENOENT although the parent exists, and Node retries the parent forever,
// on a threadpool thread: the CPU spins and the process cannot exit, SIGTERM or not). Here each missing
// level is created once, top down, and the first failure is the error.
import { mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

const MAX_DEPTH = 256

export async function makeDir(dir: string): Promise<void> {
  const missing: string[] = []
  let at = resolve(dir)
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const found = await stat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (found) {
      if (!found.isDirectory()) throw notADirectory(at)
      break
    }
    missing.push(at)
    const parent = dirname(at)
    if (parent === at) break
    at = parent
  }
  for (const path of missing.reverse()) {
    await mkdir(path).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
      if (!(await stat(path)).isDirectory()) throw notADirectory(path)
    })
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), {
    code: 'ENOTDIR',
    path,
    syscall: 'mkdir',
  })
}
