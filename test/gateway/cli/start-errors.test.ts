// `outpost start` failing to start, as a real process (#10): each failure is one human line on stderr
// (what, where, what to do) next to the JSON log, and a sysexits status a script or systemd can act on.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { connectAsync } from 'mqtt'
import { afterAll, describe, expect, test } from 'vitest'
import { freePort } from '../../../scripts/ci/mosquitto.js'
import { CLI_JS, runCli } from '../../helpers/cli.js'
import { GatewayProcess } from '../../helpers/gateway-process.js'
import { needs } from '../../helpers/needs.js'
import { tempDir } from '../../helpers/tmp.js'
import { unmount } from '../../helpers/tmpfs.js'

const servers: Server[] = []
const mounts: string[] = []
const gateways: GatewayProcess[] = []
afterAll(async () => {
  for (const g of gateways) await g.kill9()
  for (const s of servers) await new Promise((resolve) => s.close(resolve))
  for (const m of mounts) unmount(m)
})

/** A config file in a fresh temp dir (YAML; JSON is YAML). */
function writeConfig(config: Record<string, unknown>): { dir: string; file: string } {
  const dir = tempDir()
  const file = join(dir, 'outpost.yaml')
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], allowAnonymous: true },
      outbox: { minFreeDiskBytes: 0, reserveBytes: 0 },
      http: { enabled: false },
      ...config,
    }),
  )
  return { dir, file }
}

async function occupy(): Promise<number> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

/** stderr's lines that are not JSON (the log goes to stdout; this checks nothing else is on stderr). */
const humanLines = (stderr: string) => stderr.trimEnd().split('\n')

describe('outpost start: failures a person can act on', () => {
  test('the broker port is taken: exit 69, one line naming the port, the listener and mosquitto', async () => {
    const port = await occupy()
    const { file } = writeConfig({
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }], allowAnonymous: true },
    })
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(69)
    expect(humanLines(r.stderr)).toEqual([
      `outpost: cannot start: port ${port} (broker.listeners[0], tcp 127.0.0.1) is in use — is mosquitto running? \`systemctl stop mosquitto\` or change broker.listeners in ${file}`,
    ])
    const fatal = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; exit?: number })
      .find((l) => l.level === 'fatal')
    expect(fatal?.exit).toBe(69) // the JSON log has it too
  })

  test('the HTTP port is taken: exit 69 naming http.port', async () => {
    const port = await occupy()
    const { file } = writeConfig({ http: { enabled: true, host: '127.0.0.1', port } })
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(69)
    expect(r.stderr).toMatch(
      new RegExp(`^outpost: cannot start: port ${port} \\(http\\.port\\) is in use — `),
    )
  })

  test('a data dir under /proc: exit 73 at once (no spinning CPU, nothing left running)', async () => {
    const { file } = writeConfig({ dataDir: `/proc/outpost-test-${process.pid}/data` })
    const t0 = Date.now()
    const r = await runCli(['start', '--config', file], { timeoutMs: 15_000 })
    expect(r.signal, 'killed after 15 s: it hung').toBeNull()
    expect(r.code, r.stderr).toBe(73)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(humanLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^outpost: cannot start: the data dir /proc/outpost-test-${process.pid}/data cannot be created \\(ENOENT`,
        ),
      ),
    ])
  })

  test('a read-only data dir: exit 73 saying the file system is read-only', async (ctx) => {
    const root = process.getuid?.() === 0
    if (!needs('root (to mount a read-only tmpfs)', root)) return ctx.skip()
    const { dir, file } = writeConfig({})
    const data = join(dir, 'data')
    mkdirSync(data)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', data])
    mounts.push(data)
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(73)
    expect(r.stderr).toMatch(
      new RegExp(
        `^outpost: cannot start: the data dir ${data} is not writable \\(EROFS, read-only file system\\) — the file system is read-only`,
      ),
    )
  })

  test("a listener's TLS certificate that does not exist: exit 66 naming the config path and the file", async () => {
    const dir = tempDir()
    const { file } = writeConfig({
      broker: {
        listeners: [
          {
            type: 'tls',
            host: '127.0.0.1',
            port: 0,
            certFile: join(dir, 'no-cert.pem'),
            keyFile: join(dir, 'no-key.pem'),
          },
        ],
        allowAnonymous: true,
      },
    })
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(66)
    expect(r.stderr).toMatch(
      new RegExp(
        `^outpost: cannot start: broker\\.listeners\\[0\\]\\.certFile: ${dir}/no-cert\\.pem: no such file — fix`,
      ),
    )
  })

  test('no config file: exit 66 naming the file and where configs are looked for', async () => {
    const missing = join(tempDir(), 'nowhere.yaml')
    const r = await runCli(['start'], { env: { ...process.env, OUTPOST_CONFIG: missing }, timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(66)
    expect(humanLines(r.stderr)).toEqual([
      `outpost: cannot start: config ${missing} (OUTPOST_CONFIG): file not found — looked for: --config FILE, then $OUTPOST_CONFIG, then /etc/outpost/outpost.yaml, then config/default.yaml of a checkout`,
    ])
  })

  test('upstreams without a gatewayId: exit 78, the gatewayId path says why it is required', async () => {
    const { file, dir } = writeConfig({
      upstreams: [{ name: 'cloud', type: 'mqtt', url: 'mqtt://127.0.0.1:1' }],
    })
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(78)
    expect(r.stderr).toMatch(/^ {2}gatewayId: required when upstreams are configured/m)
    expect(existsSync(join(dir, 'data'))).toBe(false)
  })

  test('the outbox is held by a running gateway: exit 75 saying so', async () => {
    const { dir, file } = writeConfig({})
    const first = await GatewayProcess.startFile(file)
    gateways.push(first)
    const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(75)
    expect(r.stderr).toMatch(
      new RegExp(
        `^outpost: cannot start: the outbox in ${join(dir, 'data')} is in use by another gateway — `,
      ),
    )
    expect(await first.stop()).toBe(0)
  })

  test("the broker's session store is held by another process: exit 75 saying so, and what to do", async () => {
    const { dir, file } = writeConfig({})
    const store = join(dir, 'data', 'broker')
    mkdirSync(join(dir, 'data'))
    const holder = new ClassicLevel(store)
    await holder.open()
    try {
      const r = await runCli(['start', '--config', file], { timeoutMs: 20_000 })
      expect(r.code, r.stderr).toBe(75)
      expect(humanLines(r.stderr)).toEqual([
        `outpost: cannot start: the broker's session store in ${store} is in use by another process — stop it first (\`systemctl status outpost\`), or give this gateway another dataDir in ${file}`,
      ])
    } finally {
      await holder.close()
    }
  })

  // A gateway once started with sudo leaves root's files behind; LevelDB's error has no errno to say so.
  test("a session store the gateway's user cannot write: exit 73 with the chown to run", async (ctx) => {
    const nobody = 65534
    const readable = (path: string) =>
      spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(path)})`], {
        uid: nobody,
        gid: nobody,
      }).status === 0
    const root = process.getuid?.() === 0
    if (!needs('root, and a checkout the user nobody can read', root && readable(CLI_JS))) return ctx.skip()
    const { dir, file } = writeConfig({})
    chmodSync(dir, 0o755)
    chmodSync(file, 0o644)
    const data = join(dir, 'data')
    mkdirSync(join(data, 'broker'), { recursive: true })
    chownSync(data, nobody, nobody) // the data dir and the outbox are nobody's; broker/ stays root's
    const r = spawnSync(process.execPath, [CLI_JS, 'start', '--config', file], {
      uid: nobody,
      gid: nobody,
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(r.status, r.stderr).toBe(73)
    expect(humanLines(r.stderr)).toEqual([
      `outpost: cannot start: cannot open the session store in ${join(data, 'broker')}: IO error: ${join(data, 'broker', 'LOCK')}: Permission denied — let nobody write there (chown -R nobody ${data}), or set dataDir in ${file}`,
    ])
  })

  test('start --help: the usage and the config search order on stdout, exit 0', async () => {
    const r = await runCli(['start', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: outpost start \[--config FILE\]/)
    expect(r.stdout).toContain('$OUTPOST_CONFIG, then /etc/outpost/outpost.yaml')
    expect(r.stderr).toBe('')
  })
})

describe('outpost start: config search and SIGHUP', () => {
  test('$OUTPOST_CONFIG from another directory; SIGHUP is logged, the gateway keeps serving, SIGTERM exits 0', async () => {
    const port = await freePort()
    const { file } = writeConfig({
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }], allowAnonymous: true },
    })
    const g = await GatewayProcess.startArgs(['start'], { env: { OUTPOST_CONFIG: file }, cwd: tempDir() })
    gateways.push(g)
    expect(g.logs.find((l) => l.msg === 'config loaded')).toMatchObject({
      config: file,
      from: 'OUTPOST_CONFIG',
    })

    g.child.kill('SIGHUP')
    const hup = await g.waitForLog((l) => l.signal === 'SIGHUP')
    expect(hup).toMatchObject({ configValid: true, level: 'warn' })
    writeFileSync(file, 'outbox: { durability: sometimes }\n')
    g.child.kill('SIGHUP')
    const second = await g.waitForLog((l) => l.signal === 'SIGHUP' && l.configValid === false)
    expect(JSON.stringify(second.problems)).toContain('outbox.durability')

    // still serving: an MQTT CONNECT gets its CONNACK
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
    })
    await client.endAsync()
    expect(await g.stop()).toBe(0)
  })
})
