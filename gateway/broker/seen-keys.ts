// A bounded memory of keys (client ids) already logged for one reason, so a device that reconnects and
// repeats itself is logged once, not once a connection, and a stream of new ids cannot grow it.

export class SeenKeys {
  private readonly keys = new Set<string>()

  constructor(private readonly capacity = 1024) {}

  /** True the first time `key` is seen (until it is forgotten to make room). */
  first(key: string): boolean {
    if (this.keys.has(key)) return false
    if (this.keys.size >= this.capacity) {
      const oldest = this.keys.values().next().value
      if (oldest !== undefined) this.keys.delete(oldest)
    }
    this.keys.add(key)
    return true
  }
}
