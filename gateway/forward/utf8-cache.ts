// Strings a forwarder encodes again and again — a device's topic, its client id, its key — encoded once
// and shared by every message that carries them (the Kafka library only reads them: it copies them into
// the request). Three allocations fewer per record: encoding them afresh was 2–3% of the gateway's
// JavaScript thread in a drain, and garbage. Bounded: cleared when full (more distinct strings than
// that just get encoded again).
export class Utf8Cache {
  private readonly map = new Map<string, Buffer>()

  constructor(private readonly maxEntries = 4096) {}

  get(text: string): Buffer {
    let bytes = this.map.get(text)
    if (bytes === undefined) {
      if (this.map.size >= this.maxEntries) this.map.clear()
      bytes = Buffer.from(text)
      this.map.set(text, bytes)
    }
    return bytes
  }
}
