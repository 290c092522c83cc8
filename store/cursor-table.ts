// The cursors of the outbox: one position per upstream (the last record it is done with), what of them
// still has to be written, and who waits for a position to be on disk.

export interface CursorChanges {
  writes: Array<[string, number]>
  removes: string[]
}

export class CursorTable {
  private readonly pos = new Map<string, number>()
  private readonly dirty = new Map<string, number>()
  private readonly removed = new Set<string>()
  private readonly persisted = new Map<string, number>()
  private waiters: Array<{ name: string; seq: number; resolve: () => void }> = []

  get size(): number {
    return this.pos.size
  }

  names(): string[] {
    return [...this.pos.keys()]
  }

  entries(): IterableIterator<[string, number]> {
    return this.pos.entries()
  }

  get(name: string): number | undefined {
    return this.pos.get(name)
  }

  /** Lowest position of all cursors (undefined when there are none). */
  min(): number | undefined {
    if (this.pos.size === 0) return undefined
    let min = Number.POSITIVE_INFINITY
    for (const p of this.pos.values()) if (p < min) min = p
    return min
  }

  create(name: string, start: number): void {
    this.pos.set(name, start)
    this.removed.delete(name)
    this.dirty.set(name, start)
  }

  /** Moves a cursor forward (never back); returns whether it moved. */
  advance(name: string, to: number): boolean {
    const current = this.pos.get(name)
    if (current === undefined) throw new Error(`unknown cursor "${name}"`)
    if (to <= current) return false
    this.pos.set(name, to)
    this.dirty.set(name, to)
    return true
  }

  /** Resolves once `name` is written at `seq` or beyond (or the cursor is removed, or all are released). */
  whenPersisted(name: string, seq: number): Promise<void> {
    if ((this.persisted.get(name) ?? -1) >= seq) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ name, seq, resolve }))
  }

  /** Removes a cursor; returns its last position. */
  remove(name: string): number | undefined {
    const position = this.pos.get(name)
    if (position === undefined) return undefined
    this.pos.delete(name)
    this.dirty.delete(name)
    this.persisted.delete(name)
    this.removed.add(name)
    this.release((w) => w.name === name)
    return position
  }

  get hasChanges(): boolean {
    return this.dirty.size > 0 || this.removed.size > 0
  }

  /** What the next batch should write (a snapshot: later moves stay pending). */
  changes(): CursorChanges {
    return { writes: [...this.dirty], removes: [...this.removed] }
  }

  /** The batch with `changes` is on disk. */
  written(changes: CursorChanges): void {
    for (const [name, p] of changes.writes) {
      if (this.dirty.get(name) === p) this.dirty.delete(name)
      this.persisted.set(name, p)
    }
    for (const name of changes.removes) if (!this.pos.has(name)) this.removed.delete(name)
    if (changes.writes.length > 0) this.release((w) => (this.persisted.get(w.name) ?? -1) >= w.seq)
  }

  /** A cursor as found on disk at open (a position kept in memory may be ahead of it). */
  loaded(name: string, p: number): void {
    if (this.removed.has(name)) return
    this.persisted.set(name, p)
    this.pos.set(name, Math.max(p, this.pos.get(name) ?? p))
  }

  /** Resolves every waiter (the outbox is closing). */
  releaseAll(): void {
    this.release(() => true)
  }

  private release(which: (w: { name: string; seq: number }) => boolean): void {
    const keep: typeof this.waiters = []
    for (const w of this.waiters) {
      if (which(w)) w.resolve()
      else keep.push(w)
    }
    this.waiters = keep
  }
}
