// Lets reads run concurrently, except around a reopen: close() waits for the reads in progress and holds
// new ones back until the returned function opens the gate again.

export class ReadGate {
  private gate: Promise<void> | undefined
  private active = 0
  private idle: (() => void) | undefined

  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      if (this.active === 0) this.idle?.()
    }
  }

  /** Closes the gate to new reads and resolves, with the function that reopens it, when none runs. */
  async close(): Promise<() => void> {
    let open!: () => void
    this.gate = new Promise<void>((resolve) => {
      open = () => {
        this.gate = undefined
        resolve()
      }
    })
    while (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve))
    this.idle = undefined
    return open
  }
}
