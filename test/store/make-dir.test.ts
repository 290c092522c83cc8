// makeDir: `mkdir -p` that ends. Node's recursive mkdir never returns under /proc (#10: a data dir
// there spun the CPU and ignored SIGTERM).
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { makeDir } from '../../store/make-dir.js'
import { tempDir } from '../helpers/tmp.js'

describe('makeDir', () => {
  test('creates every missing level, and is a no-op on an existing directory', async () => {
    const deep = join(tempDir(), 'a', 'b', 'c')
    await makeDir(deep)
    expect(statSync(deep).isDirectory()).toBe(true)
    await makeDir(deep)
  })

  test('under /proc it fails at once with ENOENT (Node recursive mkdir loops there for ever)', async () => {
    const t0 = performance.now()
    await expect(makeDir(`/proc/outpost-make-dir-${process.pid}/x`)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  test('a file in the way: ENOTDIR', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    await expect(makeDir(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' })
    mkdirSync(join(dir, 'ok'))
    await expect(makeDir(join(dir, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})
