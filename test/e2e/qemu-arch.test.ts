// The Pi's architectures for real (#10): Debian 13's own nodejs for arm64 and armhf, run under
// qemu-user-static with a root tree from debootstrap (scripts/ci/qemu-root.sh, cached in .cache/qemu),
// starts the gateway from this dist/ on the node_modules npm installed here — so a native dependency
// without an arm prebuild fails here instead of on a user's Pi — and forwards readings to an x86
// mosquitto. Slow by nature: Debian's node has no startup snapshot, so under emulation it compiles its
// own bootstrap code (~10 s before our first line runs on the 2-core VM).
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { freePort } from '../../scripts/ci/mosquitto.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto, publishReadings } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { tempDir } from '../helpers/tmp.js'

const ROOT_SCRIPT = fileURLToPath(new URL('../../scripts/ci/qemu-root.sh', import.meta.url))

const ARCHES = [
  { debian: 'armhf', qemu: 'qemu-arm-static', nodeArch: 'arm' },
  { debian: 'arm64', qemu: 'qemu-aarch64-static', nodeArch: 'arm64' },
] as const

const ready =
  haveMosquitto() &&
  needs(
    'qemu-user-static and debootstrap (apt-get install qemu-user-static debootstrap), root',
    hasBinary('qemu-aarch64-static') &&
      hasBinary('qemu-arm-static') &&
      hasBinary('debootstrap') &&
      process.getuid?.() === 0,
  )

describe.runIf(ready)('the gateway on Debian 13 nodejs for the Pi, under qemu', () => {
  let cloud: Cloud | undefined
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    await cloud?.close()
  })

  test.each(ARCHES)(
    '$debian: starts on this node_modules and forwards readings to an x86 mosquitto',
    async ({ debian, qemu, nodeArch }) => {
      // Cached: prints the tree's path at once when it exists (.ci/run builds both beforehand).
      const root = execFileSync('bash', [ROOT_SCRIPT, debian], { encoding: 'utf8', timeout: 300_000 }).trim()
      cloud ??= await createCloud(tempDir(), true)
      const dir = tempDir()
      const port = await freePort()
      const config = gatewayConfig(join(dir, 'data'), cloud.url, {
        gatewayId: `gw-${debian}`,
        broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }], allowAnonymous: true },
      })
      const configFile = join(dir, 'gateway.yaml')
      writeFileSync(configFile, JSON.stringify(config))

      const t0 = Date.now()
      const g = await GatewayProcess.startArgs(['start', '--config', configFile], {
        command: [qemu, '-L', root, join(root, 'usr/bin/node')],
        timeoutMs: 240_000,
      })
      gateways.push(g)
      const startedMs = Date.now() - t0
      const loaded = g.logs.find((l) => l.msg === 'config loaded')
      expect(loaded).toMatchObject({ arch: nodeArch })
      expect(loaded?.node).toMatch(/^v20\.(19|[2-9]\d)\./) // Debian 13's nodejs

      await g.waitForLog((l) => l.msg === 'upstream connected', 60_000)
      const before = cloud.sink.uniqueCount()
      const acked = await publishReadings(`mqtt://127.0.0.1:${port}`, 1, 5, { inflight: 1 })
      expect(acked[0]).toHaveLength(5)
      await cloud.sink.waitForUnique(before + 5, 60_000)
      const mine = cloud.sink.messages.filter((m) => m.gateway === `gw-${debian}`)
      expect(mine.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5])
      expect(await g.stop(60_000)).toBe(0)
      console.info(`qemu ${debian}: gateway started in ${startedMs} ms`)
    },
    300_000,
  )
})
