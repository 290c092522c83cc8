// The demo's "cloud": Debian's mosquitto when it is installed (the broker a user would point Outpost
// at), else an aedes broker in this process, on a free loopback port either way.
import { execFileSync } from 'node:child_process'
import { createServer, type Server, type Socket } from 'node:net'
import { Aedes } from 'aedes'
import { Mosquitto } from '../ci/mosquitto.js'

export interface DemoCloud {
  /** What runs it, for the printout. */
  kind: string
  port: number
  url: string
  /** The MQTT version the gateway's uplink speaks to it (aedes has no MQTT 5). */
  protocolVersion: 4 | 5
  close(): Promise<void>
}

/** `prefer`: auto (mosquitto when installed), or force one of them. */
export async function startCloud(
  dir: string,
  prefer: 'auto' | 'mosquitto' | 'aedes' = 'auto',
): Promise<DemoCloud> {
  if (prefer === 'mosquitto' || (prefer === 'auto' && hasMosquitto())) {
    const m = await Mosquitto.start({ dir })
    return { kind: 'mosquitto', port: m.port, url: m.url, protocolVersion: 5, close: () => m.kill() }
  }
  const aedes = await Aedes.createBroker()
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    aedes.handle(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    kind: prefer === 'aedes' ? 'aedes in this process' : 'aedes in this process (mosquitto is not installed)',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    protocolVersion: 4,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}

function hasMosquitto(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v mosquitto'], { stdio: 'ignore' })
    return true
  } catch {
    return false // not on PATH
  }
}
