// systemd's notify protocol against a real NOTIFY_SOCKET (#10): the test binds an AF_UNIX datagram
// socket (test/fixtures/notify-socket.py, as systemd would) and starts the real gateway with
// NOTIFY_SOCKET and WATCHDOG_USEC set. READY=1 comes once the broker accepts connections, WATCHDOG=1
// keeps coming at half of WATCHDOG_USEC, none while the event loop is blocked (a preloaded fixture
// busy-waits on SIGUSR2), and SIGTERM brings STOPPING=1 before a clean exit.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { afterAll, describe, expect, test } from 'vitest'
import { freePort } from '../../scripts/ci/mosquitto.js'
import { spawnLines } from '../helpers/child.js'
import { gatewayConfig } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { tempDir } from '../helpers/tmp.js'

const RECEIVER = fileURLToPath(new URL('../fixtures/notify-socket.py', import.meta.url))
const BLOCK_LOOP = fileURLToPath(new URL('../fixtures/block-loop.mjs', import.meta.url))
const PYTHON = '/usr/bin/python3'
const WATCHDOG_USEC = 400_000 // pings every 200 ms
const BLOCK_MS = 2000

interface Datagram {
  ms: number
  fields: string[]
}

const ready = needs(
  'systemd-notify (apt-get install systemd) and /usr/bin/python3',
  hasBinary('systemd-notify') && existsSync(PYTHON),
)

describe.runIf(ready)('systemd notify', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  test('READY=1 after the broker listens, WATCHDOG=1 at half of WATCHDOG_USEC and none while the loop is blocked, STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir()
    const socket = join(dir, 'notify.sock')
    const receiver = spawnLines(PYTHON, [RECEIVER, socket])
    cleanups.push(() => receiver.kill9())
    expect(await receiver.waitForLines(1, 10_000), receiver.stderr()).toBe(true)
    const datagrams = (): Datagram[] => receiver.lines.slice(1).map((l) => JSON.parse(l) as Datagram)
    const withField = (f: string) => datagrams().filter((d) => d.fields.includes(f))
    const until = async (what: string, ok: () => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      while (!ok()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(datagrams())}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }

    const port = await freePort()
    const config = gatewayConfig(join(dir, 'data'), undefined, {
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }], allowAnonymous: true },
    })
    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(configFile, JSON.stringify(config))
    const blockLog = join(dir, 'blocked.jsonl')
    const gateway = await GatewayProcess.startArgs(['start', '--config', configFile], {
      command: [process.execPath, '--import', BLOCK_LOOP],
      env: {
        NOTIFY_SOCKET: socket,
        WATCHDOG_USEC: String(WATCHDOG_USEC),
        BLOCK_LOOP_MS: String(BLOCK_MS),
        BLOCK_LOOP_LOG: blockLog,
      },
    })
    cleanups.push(() => gateway.kill9())

    await until('READY=1', () => withField('READY=1').length > 0, 10_000)
    // READY means every part started: the broker takes a connection now.
    const device = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      connectTimeout: 3000,
    })
    await device.endAsync()
    const readyMsg = withField('READY=1')[0] as Datagram
    expect(readyMsg.fields.find((f) => f.startsWith('STATUS='))).toMatch(/^STATUS=no upstream configured/)

    // Pings keep coming at ~200 ms.
    const before = withField('WATCHDOG=1').length
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(withField('WATCHDOG=1').length - before).toBeGreaterThanOrEqual(4)

    // A blocked loop sends nothing; the pings resume when it is free again.
    gateway.child.kill('SIGUSR2')
    // The file appears before its line is written: wait for a whole line.
    const blockLine = () => (existsSync(blockLog) ? readFileSync(blockLog, 'utf8') : '')
    await until('the block to end', () => blockLine().endsWith('\n'), BLOCK_MS + 10_000)
    const { start, end } = JSON.parse(blockLine()) as { start: number; end: number }
    const afterBlock = withField('WATCHDOG=1').length
    await until('pings after the block', () => withField('WATCHDOG=1').length >= afterBlock + 2, 5000)
    // A helper spawned just before the block may still deliver early in it (it is another process).
    const during = withField('WATCHDOG=1').filter((d) => d.ms > start + 300 && d.ms < end)
    expect(end - start).toBeGreaterThanOrEqual(BLOCK_MS)
    expect(during, `pings while the loop was blocked ${start}..${end}`).toEqual([])

    gateway.child.kill('SIGTERM')
    expect(await gateway.waitExit()).toBe(0)
    await until('STOPPING=1', () => withField('STOPPING=1').length > 0, 5000)
    const stopping = datagrams().findIndex((d) => d.fields.includes('STOPPING=1'))
    expect(stopping).toBeGreaterThan(datagrams().findIndex((d) => d.fields.includes('READY=1')))
  })
})
