// Issue #7, item 7: a fuzz run against the broker port of a real gateway process (with a real mosquitto
// upstream) while well-behaved devices publish QoS 1. Hostile connections (test/helpers/fuzz-packets.ts:
// mutated and truncated mqtt-packet sessions, lying lengths, random bytes, topics and ids that are not
// allowed) come and go, a few at a time, for FUZZ_SECONDS. Then: the gateway is up, its memory stayed
// bounded, every device reading that got a PUBACK is upstream, the devices never lost their connection,
// every publish the gateway took in is accounted for, and its connection gauge equals the sockets the
// kernel has open on its port. The seed is printed; OUTPOST_FUZZ_SEED=N replays a run.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { percentileOf, runPacedDevices } from '../../scripts/ci/paced-devices.js'
import { RssSampler, rssBytes } from '../../scripts/ci/rss-sampler.js'
import { Outbox } from '../../store/outbox.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { fuzzCase } from '../helpers/fuzz-packets.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { readAll } from '../helpers/outbox.js'
import { prng } from '../helpers/prng.js'
import { RawSocket } from '../helpers/raw-socket.js'
import { tempDir } from '../helpers/tmp.js'

const FUZZ_SECONDS = 40
const MAX_CASES = 4000
const WORKERS = 4
const MIB = 2 ** 20

/** Sockets open on local TCP port `port` (kernel view: ESTABLISHED or CLOSE_WAIT, i.e. not closed by us). */
function openSocketsOn(port: number): number {
  let n = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      const local = f[1]
      const state = f[3]
      if (local === undefined || state === undefined) continue
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue
      if (state === '01' || state === '08') n++
    }
  }
  return n
}

describe.runIf(haveMosquitto())('fuzzing the broker port', () => {
  let cloud: Cloud | undefined
  let gw: GatewayProcess | undefined
  afterAll(async () => {
    await gw?.kill9()
    await cloud?.close()
  })

  test(`${FUZZ_SECONDS} s of hostile connections: the gateway stays up and bounded, devices keep their PUBACKs, counters tell the truth`, {
    timeout: 120_000,
  }, async () => {
    const seed = Number(process.env.OUTPOST_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
    console.info(`fuzz seed ${seed} (OUTPOST_FUZZ_SEED=${seed} replays this run)`)
    const random = prng(seed)

    const dir = tempDir('outpost-fuzz-')
    cloud = await createCloud(dir, true)
    const sink = cloud.sink
    gw = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        broker: {
          listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
          allowAnonymous: true,
          maxPacketBytes: 4096,
          connectTimeoutMs: 1000,
        },
        http: { enabled: true, host: '127.0.0.1', port: 0 },
      }),
    )
    const gateway = gw
    await runPacedDevices({ url: gateway.url, devices: 3, perSec: 20, seconds: 0.5, idPrefix: 'warm' })
    const idle = rssBytes(gateway.pid) ?? 0
    const rss = new RssSampler(gateway.pid, 100)

    const kinds = new Map<string, number>()
    let cases = 0
    const deadline = performance.now() + FUZZ_SECONDS * 1000
    const worker = async () => {
      while (performance.now() < deadline && cases < MAX_CASES) {
        cases++
        const c = fuzzCase(random)
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1)
        const raw = await RawSocket.open(gateway.port)
        for (const chunk of c.chunks) {
          if (raw.isClosed) break
          raw.write(chunk)
        }
        await raw.waitClosed(c.lingerMs)
        await raw.destroy()
      }
    }
    const [devices] = await Promise.all([
      runPacedDevices({ url: gateway.url, devices: 3, perSec: 20, seconds: FUZZ_SECONDS, idPrefix: 'good' }),
      ...Array.from({ length: WORKERS }, worker),
    ])
    const peak = rss.stop()
    console.info(
      `fuzz: ${cases} connections (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
        `devices ${devices.acked.length} acked, PUBACK p99 ${percentileOf(devices.latenciesMs, 99).toFixed(1)} ms, ` +
        `max ${Math.max(...devices.latenciesMs).toFixed(0)} ms; RSS ${(idle / MIB).toFixed(0)} → ${(peak / MIB).toFixed(0)} MiB`,
    )

    // Up, and its memory bounded.
    expect(gateway.child.exitCode).toBeNull()
    expect(await (await fetch(`http://127.0.0.1:${await statusPort(gateway)}/healthz`)).text()).toBeTruthy()
    expect(peak - idle).toBeLessThanOrEqual(96 * MIB)

    // The devices kept being served: never disconnected, every reading acknowledged, none held up for long.
    expect(devices.disconnects).toBe(0)
    expect(devices.unacked).toBe(0)
    expect(devices.acked.length).toBeGreaterThanOrEqual(3 * 20 * FUZZ_SECONDS * 0.9)
    expect(Math.max(...devices.latenciesMs)).toBeLessThan(5000)

    // Every reading they got a PUBACK for reached mosquitto.
    const want = new Set(devices.acked)
    const arrived = () => sink.messages.filter((m) => want.has(m.payload.toString())).length
    await sink
      .waitFor(
        () => arrived() >= want.size,
        60_000,
        () => `${arrived()}/${want.size} device readings upstream`,
      )
      .catch(async (err: Error) => {
        // For the replay: what the upstream said, and the records it would not take.
        const upstream = gateway.logs.filter((l) => l.part === 'forward' && l.level !== 'info').slice(-3)
        const log = cloud?.mosquitto
          ? readFileSync(cloud.mosquitto.logPath(), 'utf8').split('\n').slice(-4)
          : []
        await gateway.kill9()
        const outbox = await Outbox.open({ dir: join(dir, 'data'), minFreeDiskBytes: 0, reserveBytes: 0 })
        const stuck = await readAll(outbox, outbox.cursor('cloud'), 3).finally(() => outbox.close())
        const show = stuck.map((r) => ({
          seq: r.seq,
          topic: Buffer.from(r.topic).toString('hex'),
          origin: Buffer.from(r.origin).toString('hex'),
          qos: r.qos,
          retain: r.retain,
          payloadBytes: r.payload.length,
        }))
        console.error(
          `forwarder: ${JSON.stringify(upstream)}\nmosquitto: ${log.join('\n')}\nnext records: ${JSON.stringify(show)}`,
        )
        throw err
      })

    // Counters: every publish taken in is accounted for, and the gauge is the sockets really open (the
    // fuzzers are gone; the devices have disconnected too).
    const settled = async () => {
      const b = (await gateway.status()).broker
      return (
        b.stored + b.localOnly + b.qos0Dropped + b.notStored + b.refusedUpstreamTopic === b.publishesReceived
      )
    }
    const deadlineSettled = Date.now() + 20_000
    while (!(await settled()) && Date.now() < deadlineSettled) await new Promise((r) => setTimeout(r, 100))
    expect(await settled()).toBe(true)
    const deadlineGauge = Date.now() + 10_000
    let status = await gateway.status()
    while (status.broker.connections !== openSocketsOn(gateway.port) && Date.now() < deadlineGauge) {
      await new Promise((r) => setTimeout(r, 100))
      status = await gateway.status()
    }
    expect(status.broker.connections).toBe(openSocketsOn(gateway.port))
    expect(status.broker.connections).toBe(0)
    console.info(
      `counters: ${JSON.stringify({
        connectionsTotal: status.broker.connectionsTotal,
        malformed: status.broker.malformedPackets,
        oversized: status.broker.oversizedPackets,
        badTopic: status.broker.refusedBadTopic,
        badClientId: status.broker.refusedClientIds,
        connectTimeouts: status.broker.connectTimeouts,
        clientErrors: status.broker.clientErrors,
        stored: status.broker.stored,
      })}`,
    )
    expect(await gateway.stop()).toBe(0)
  })
})

/** The gateway's HTTP port, from its 'http listening' log line. */
async function statusPort(gw: GatewayProcess): Promise<number> {
  const line = await gw.waitForLog((l) => l.msg === 'http listening')
  return line.port as number
}
