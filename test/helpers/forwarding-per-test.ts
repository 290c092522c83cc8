// The per-test fixture of the forwarder tests (test/gateway/forward, e2e/poison-messages, the CLI's dead
// letter round trip): scripted upstreams and gateways forwarding to one upstream named "cloud", stopped
// after each test in the reverse order they were started, and the cloud forwarder's status.
import { afterEach } from 'vitest'
import type { ForwarderStatus } from '../../gateway/forward/mqtt-forwarder.js'
import { type RunningGateway, until } from '../gateway/broker/harness.js'
import { cloudUpstream, forwardingGateway } from './forwarding.js'
import { ScriptedUpstream, type ScriptedUpstreamOptions } from './scripted-upstream.js'

export interface ForwardingFixture {
  /** Runs `cleanup` after this test, before whatever was started earlier. */
  defer(cleanup: () => Promise<void>): void
  /** A scripted upstream, closed after the test. */
  scripted(options?: ScriptedUpstreamOptions): Promise<ScriptedUpstream>
  /** A gateway on `dataDir` forwarding to `url` (cloudUpstream with `extra`), stopped after the test. */
  gateway(dataDir: string, url: string, extra?: Record<string, unknown>): Promise<RunningGateway>
  /** The status of the gateway's "cloud" forwarder. */
  cloud(gw: RunningGateway): Promise<ForwarderStatus>
  /** Waits until the cloud cursor reaches `seq`; false if it does not within timeoutMs. */
  reaches(gw: RunningGateway, seq: number, timeoutMs?: number): Promise<boolean>
}

/** Call once at the top of a test file. */
export function forwardingPerTest(): ForwardingFixture {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  const cloud = async (gw: RunningGateway) => (await gw.gateway.status()).upstreams[0] as ForwarderStatus
  return {
    defer: (cleanup) => {
      cleanups.push(cleanup)
    },
    scripted: async (options) => {
      const up = await ScriptedUpstream.start(options)
      cleanups.push(() => up.close())
      return up
    },
    gateway: async (dataDir, url, extra = {}) => {
      const gw = await forwardingGateway(dataDir, cloudUpstream(url, extra))
      cleanups.push(() => gw.stop())
      return gw
    },
    cloud,
    reaches: (gw, seq, timeoutMs = 10_000) => until(async () => (await cloud(gw)).position >= seq, timeoutMs),
  }
}
