// LevelDB's sync write fsyncs only its current log file. When the memtable fills, LevelDB starts a new
// log and writes the old memtable to a table in the background; until that table is written, what
// the old log held without an fsync lives only in the page cache. In batch mode (writes unsynced, one
// synced write every syncIntervalMs) a power cut in that window lost the old log's unsynced tail and
// kept the later synced write: records missing before records that survived, under a state that
// claimed them all (found by the power-loss test once the memtable was 2 MiB). So before each synced
// write of batch mode, every log file still in the database dir is fsynced first: a synced write
// covers everything written before it. (fsync mode needs none of this: each of its writes is synced.)
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * fdatasyncs each `*.log` file in `dbDir` (a log deleted meanwhile is in a synced table already). The
 * current one too: the synced write that follows may itself fill the memtable and go to a new log,
 * leaving this one's tail unsynced. In batch mode that is one more fdatasync per sync interval.
 */
export async function syncLogFiles(dbDir: string): Promise<void> {
  const logs = (await readdir(dbDir)).filter((name) => /^\d+\.log$/.test(name))
  for (const name of logs) {
    let handle: Awaited<ReturnType<typeof open>> | undefined
    try {
      handle = await open(join(dbDir, name), 'r')
      await handle.datasync()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    } finally {
      await handle?.close()
    }
  }
}
