// A Kafka broker of one's own (scripts/kafka/start.sh on free ports, data in a given dir), for tests that
// take the cluster away — stop it, restart it, freeze it with SIGSTOP — without disturbing a shared
// broker, and for benchmarks run where none is. A warm start takes 6–12 s on an idle 2-core box.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// scripts/kafka/ from scripts/ci/ (sources, as vitest runs them) or from dist/scripts/ci/ (built).
const SCRIPTS = [
  fileURLToPath(new URL('../kafka/', import.meta.url)),
  fileURLToPath(new URL('../../../scripts/kafka/', import.meta.url)),
].find((dir) => existsSync(join(dir, 'start.sh')))

export class KafkaBroker {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /**
   * Starts a broker on three free consecutive ports (client, controller, SASL), its data in `dir`. The
   * ports are drawn below the kernel's ephemeral range (ip_local_port_range, 32768+ by default), so a
   * listener on port 0 or an outgoing connection elsewhere cannot take one in the seconds the JVM needs to
   * bind it; should something still take one, the start is tried again on other ports in a fresh dir.
   */
  static async start(dir: string): Promise<KafkaBroker> {
    let lastError: unknown
    for (let attempt = 0, starts = 0; attempt < 40 && starts < 3; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000)
      if (!(await free(port)) || !(await free(port + 1)) || !(await free(port + 2))) continue
      const broker = new KafkaBroker(port, starts === 0 ? dir : `${dir}-${starts}`)
      starts++
      try {
        await broker.run('start.sh')
        return broker
      } catch (err) {
        if (!/Address already in use/.test(String(err))) throw err
        lastError = err
      }
    }
    throw lastError ?? new Error('no three free consecutive ports for a Kafka broker')
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`]
  }

  /** Stops it (SIGTERM, a controlled shutdown); its data stays for a restart. */
  stop(): Promise<void> {
    return this.run('stop.sh')
  }

  /**
   * Starts it again on the same ports and data. A port of it taken meanwhile (a lingering connection of
   * its own last life, a test's client) is waited out for a few seconds.
   */
  async restart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run('start.sh')
      } catch (err) {
        if (attempt >= 5 || !/Address already in use/.test(String(err))) throw err
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt))
      }
    }
  }

  /** Freezes it (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    process.kill(this.pid(), 'SIGSTOP')
  }

  resume(): void {
    process.kill(this.pid(), 'SIGCONT')
  }

  async close(): Promise<void> {
    try {
      this.resume()
    } catch {
      // not running
    }
    await this.stop()
  }

  private pid(): number {
    return Number(readFileSync(join(this.dir, 'kafka.pid'), 'utf8').trim())
  }

  private run(script: 'start.sh' | 'stop.sh'): Promise<void> {
    if (SCRIPTS === undefined) return Promise.reject(new Error('scripts/kafka/start.sh not found'))
    return new Promise((resolve, reject) => {
      execFile(
        join(SCRIPTS, script),
        [],
        { env: { ...process.env, KAFKA_PORT: String(this.port), KAFKA_DIR: this.dir }, timeout: 150_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`scripts/kafka/${script}: ${err.message}\n${stdout}${stderr}`)) : resolve(),
      )
    })
  }
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
