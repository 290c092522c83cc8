// scripts/install.sh for real, into a temp --prefix (#10): twice without error, a config changed in
// between is kept byte for byte, the outbox dir survives, and the installed `outpost start` — run from
// another directory, with no --config — forwards a reading to mosquitto under the installer's gateway id.
// A Node.js that is too old stops it before anything changes; --uninstall keeps config and data, --purge
// removes them.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { PI_COMMIT_DELAY_MS, unitNodeArgs } from '../../scripts/bench/profiles.js'
import { freePort } from '../../scripts/ci/mosquitto.js'
import { type LineChild, spawnLines } from '../helpers/child.js'
import { type Cloud, createCloud, haveMosquitto, publishReadings } from '../helpers/e2e.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { tempDir } from '../helpers/tmp.js'

const INSTALL = fileURLToPath(new URL('../../scripts/install.sh', import.meta.url))
const SYSTEM_INSTALL = fileURLToPath(new URL('../fixtures/system-install.sh', import.meta.url))
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)

async function install(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const r = await run('bash', [INSTALL, ...args], {
      cwd: tempDir(),
      env: { ...process.env, ...env },
      timeout: 300_000,
      maxBuffer: 16 * 2 ** 20,
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

/**
 * `npm pack` (with its prepack build) of a copy of this checkout, so the build does not rewrite the dist/
 * other tests are running. node_modules is shared by a symlink.
 */
async function packCopy(): Promise<string> {
  const copy = tempDir('outpost-pack-')
  for (const entry of readdirSync(REPO_ROOT)) {
    if (['node_modules', 'dist', '.git', '.cache', 'data', 'test'].includes(entry)) continue
    cpSync(join(REPO_ROOT, entry), join(copy, entry), { recursive: true })
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'))
  const out = tempDir()
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', out], {
    cwd: copy,
    timeout: 120_000,
  })
  expect(existsSync(join(copy, 'npm-shrinkwrap.json')), 'postpack removes the shrinkwrap again').toBe(false)
  return join(out, stdout.trim().split('\n').at(-1) as string)
}

describe('scripts/install.sh', () => {
  let cloud: Cloud | undefined
  let gateway: LineChild | undefined
  afterAll(async () => {
    await gateway?.kill9()
    await cloud?.close()
  })

  test.runIf(haveMosquitto())(
    'twice into a prefix: no error, the changed config kept; the installed outpost start forwards a reading',
    async () => {
      const prefix = tempDir('outpost-install-')
      const config = join(prefix, 'etc/outpost/outpost.yaml')
      const data = join(prefix, 'var/lib/outpost')
      const bin = join(prefix, 'usr/local/bin/outpost')

      const first = await install(['--prefix', prefix, '--gateway-id', 'pi-test-1'])
      expect(first.code, first.stderr).toBe(0)
      expect(first.stdout).toContain(`config    ${config} (written now), gateway id: pi-test-1`)
      expect(first.stdout).toMatch(/not enabled \(--prefix\/DESTDIR: systemctl not run\)/)
      expect(first.stdout).toContain(`${bin} passwd sensor-1`)
      expect(first.stdout).toContain('http://127.0.0.1:9180/api/status')
      expect(readFileSync(config, 'utf8')).toMatch(/^gatewayId: pi-test-1$/m)
      // The Pi profile's commit delay, as the benchmarks measure it.
      expect(readFileSync(config, 'utf8')).toMatch(
        new RegExp(`^  commitDelayMs: ${PI_COMMIT_DELAY_MS}$`, 'm'),
      )
      for (const f of [
        'dist/gateway/cli.js',
        'node_modules/classic-level/package.json',
        'node_modules/mqtt',
      ]) {
        expect(existsSync(join(prefix, 'opt/outpost', f)), f).toBe(true)
      }
      for (const dev of ['typescript', 'vitest', '@biomejs/biome']) {
        expect(existsSync(join(prefix, 'opt/outpost/node_modules', dev)), `dev dependency ${dev}`).toBe(false)
      }
      const unit = readFileSync(join(prefix, 'etc/systemd/system/outpost.service'), 'utf8')
      // The unit's node flags (the Pi profile) are kept; node, app and config paths are the install's.
      const flags = unitNodeArgs().join(' ')
      expect(flags).toMatch(/--max-old-space-size=\d+/)
      expect(unit).toContain(
        `${process.execPath} ${flags} ${prefix}/opt/outpost/dist/gateway/cli.js start --config ${config}`,
      )

      // The person edits the config: their own broker port, an upstream, anonymous devices on loopback.
      cloud = await createCloud(tempDir(), true)
      const port = await freePort()
      const edited = `gatewayId: pi-test-1
dataDir: ${data}
broker:
  listeners: [{ type: tcp, host: 127.0.0.1, port: ${port} }]
  allowAnonymous: true
outbox: { minFreeDiskBytes: 0, reserveBytes: 0 }
upstreams:
  - { name: cloud, type: mqtt, url: "${cloud.url}", reconnect: { minMs: 50, maxMs: 300 } }
http: { enabled: false }
`
      writeFileSync(config, edited)
      writeFileSync(join(data, 'kept.txt'), 'the outbox dir survives an upgrade')

      const second = await install(['--prefix', prefix])
      expect(second.code, second.stderr).toBe(0)
      expect(second.stdout).toContain(`(kept as it was), gateway id: pi-test-1`)
      expect(readFileSync(config, 'utf8')).toBe(edited)
      expect(readFileSync(join(data, 'kept.txt'), 'utf8')).toBe('the outbox dir survives an upgrade')

      // From another directory, no --config: the command finds the installed config.
      gateway = spawnLines('sh', ['-c', `cd ${tempDir()} && exec ${bin} start`])
      const started = async () => {
        for (let i = 0; i < 600; i++) {
          if (gateway?.lines.some((l) => l.includes('"gateway started"'))) return true
          if (gateway?.proc.exitCode !== null) return false
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return false
      }
      expect(await started(), gateway.stderr()).toBe(true)
      const acked = await publishReadings(`mqtt://127.0.0.1:${port}`, 1, 1)
      expect(acked[0]).toHaveLength(1)
      await cloud.sink.waitForUnique(1, 20_000)
      expect(cloud.sink.messages[0]).toMatchObject({
        topic: 'sensors/dev-0/telemetry',
        gateway: 'pi-test-1',
        seq: 1,
      })
      const exited = once(gateway.proc, 'exit')
      gateway.proc.kill('SIGTERM')
      expect(await exited).toEqual([0, null])
    },
  )

  test('a Node.js older than 20.19 stops it with a clear message before anything changes (exit 69)', async () => {
    const dir = tempDir()
    const oldNode = join(dir, 'node')
    // What Debian 12's Node.js answers; nothing else is asked of it before the check.
    writeFileSync(oldNode, '#!/bin/sh\necho 18.19.0\n')
    chmodSync(oldNode, 0o755)
    const prefix = join(dir, 'prefix')
    const r = await install(['--prefix', prefix, '--node', oldNode])
    expect(r.code).toBe(69)
    expect(r.stderr).toContain(`${oldNode} is Node.js 18.19.0; Outpost needs >= 20.19.`)
    expect(r.stderr).toContain('Nothing was changed.')
    expect(existsSync(join(prefix, 'opt/outpost'))).toBe(false)

    const missing = await install(['--prefix', prefix, '--node', join(dir, 'no-node')])
    expect(missing.code).toBe(69)
    expect(missing.stderr).toMatch(/Node\.js not found at .*no-node/)
  })

  test('from an npm pack tarball (prepack builds dist/, pins the dependencies); --uninstall keeps the config and the outbox; --purge removes them', async () => {
    const tarball = await packCopy()
    const listing = (await run('tar', ['-tzf', tarball])).stdout.split('\n')
    expect(listing).toEqual(
      expect.arrayContaining([
        'package/dist/gateway/cli.js',
        'package/npm-shrinkwrap.json',
        'package/systemd/outpost.service',
      ]),
    )
    expect(listing.some((f) => f.startsWith('package/test/'))).toBe(false)
    const prefix = tempDir('outpost-install-')
    // No --gateway-id and no terminal to ask on: the host name and 6 random hex digits, never the bare host name.
    const installed = await install([tarball, '--prefix', prefix])
    expect(installed.code, installed.stderr).toBe(0)
    const host = hostname()
      .split('.')[0]
      ?.replace(/[^A-Za-z0-9_.-]/g, '-')
    expect(readFileSync(join(prefix, 'etc/outpost/outpost.yaml'), 'utf8')).toMatch(
      new RegExp(`^gatewayId: ${host}-[0-9a-f]{6}$`, 'm'),
    )
    expect(installed.stdout).toContain(`install.sh: unpacking ${tarball}`)
    expect(existsSync(join(prefix, 'opt/outpost/npm-shrinkwrap.json'))).toBe(true)
    const kept = await install(['--prefix', prefix, '--uninstall'])
    expect(kept.code, kept.stderr).toBe(0)
    expect(existsSync(join(prefix, 'opt/outpost'))).toBe(false)
    expect(existsSync(join(prefix, 'usr/local/bin/outpost'))).toBe(false)
    expect(existsSync(join(prefix, 'etc/systemd/system/outpost.service'))).toBe(false)
    expect(existsSync(join(prefix, 'etc/outpost/outpost.yaml'))).toBe(true)
    expect(existsSync(join(prefix, 'var/lib/outpost'))).toBe(true)
    const purged = await install(['--prefix', prefix, '--uninstall', '--purge'])
    expect(purged.code).toBe(0)
    expect(existsSync(join(prefix, 'etc/outpost'))).toBe(false)
    expect(existsSync(join(prefix, 'var/lib/outpost'))).toBe(false)
  })

  test('a system install (in a private mount namespace): the outpost user, its dirs, no systemctl without systemd; the gateway runs as outpost; upgrade; purge', async (ctx) => {
    const can = process.getuid?.() === 0 && hasBinary('unshare') && hasBinary('setpriv')
    if (!needs('root, unshare and setpriv (util-linux) for an isolated system install', can))
      return ctx.skip()
    const work = tempDir('outpost-system-')
    const port = await freePort()
    const { stdout } = await run(
      'unshare',
      ['--mount', '--propagation', 'private', 'bash', SYSTEM_INSTALL, REPO_ROOT, work, String(port)],
      {
        timeout: 300_000,
      },
    )
    const steps = stdout.split('\n').filter((l) => l.startsWith('step: '))
    expect(steps).toEqual([
      'step: install rc=0',
      'step: user outpost',
      'step: stat outpost:outpost 750 /var/lib/outpost',
      'step: stat root:root 755 /etc/outpost',
      'step: stat root:outpost 640 /etc/outpost/outpost.yaml',
      'step: stat root:outpost 640 /etc/outpost/env',
      expect.stringMatching(
        /^step: service service {3}installed, not enabled: systemd is not running here \(PID 1 is .+\); on a systemd machine: systemctl enable --now outpost$/,
      ),
      'step: started as outpost',
      'step: outbox outpost',
      'step: gateway rc=0',
      'step: upgrade rc=0',
      'step: config kept',
      'step: outbox kept',
      'step: purge rc=0',
      'step: user removed',
    ])
  })
})
