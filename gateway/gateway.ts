// Composition and lifecycle. Start in order — outbox → broker → devices → forwarders → http — and stop
// in reverse under one deadline: stop accepting, let pending appends commit, give forwarders a short
// drain, close the outbox. Stop keeps going when one part fails and reports what failed.

import type { Config } from '../config/schema.js'
import type { SerialDeviceStatus } from '../devices/device-status.js'
import type { SerialDevices } from '../devices/serial/serial-devices.js'
import { type BatchWriter, Outbox, type OutboxStats } from '../store/outbox.js'
import { Broker, type BrokerCounters } from './broker/broker.js'
import { GatewayError } from './errors.js'
import type { Downlink, DownlinkStatus } from './forward/downlink.js'
import type { Forwarder } from './forward/forwarder.js'
import type { KafkaForwarderStatus } from './forward/kafka-forwarder.js'
import type { ConnectFn } from './forward/mqtt-connection.js'
import type { ForwarderStatus } from './forward/mqtt-forwarder.js'
import { HttpServer } from './http/http-server.js'
import { createIngest } from './ingest.js'
import type { Logger } from './logger.js'
import { createSerialDevices, createUpstreams, sessionStoreOpener } from './optional-parts.js'
import { PendingBytes } from './pending-bytes.js'
import { type ProcessStats, processStats } from './process-stats.js'
import { Router } from './router.js'

export interface GatewayOptions {
  config: Config
  logger: Logger
  now?: () => number
  /** Connection factory for MQTT upstreams (a seam for tests). */
  connectMqtt?: ConnectFn
  /** The outbox's LevelDB batch write (a seam for tests: hold a commit, fail a write). */
  writeBatch?: BatchWriter
}

export interface GatewayStatus {
  gatewayId: string
  uptimeMs: number
  listeners: ReadonlyArray<{ type: string; host: string; port: number }>
  broker: BrokerCounters
  ingest: IngestStatus
  outbox: OutboxStats
  /** Each upstream's forwarder status; an MQTT upstream's includes its downlink's. */
  upstreams: Array<(ForwarderStatus & DownlinkStatus) | KafkaForwarderStatus>
  devices: { serial: SerialDeviceStatus[] }
  process: ProcessStats
}

export interface IngestStatus {
  /** Bytes (estimated in memory) handed to the outbox and not yet committed, and the bound. */
  pendingBytes: number
  pendingPeakBytes: number
  maxPendingBytes: number
  /** Messages stored although a destination's topic is invalid (routes with invalidTopic: dead-letter). */
  invalidTopicStored: number
}

export class Gateway {
  private outbox: Outbox | undefined
  private broker: Broker | undefined
  private forwarders: Forwarder[] = []
  /** By MQTT upstream name (one per MQTT upstream; 'off' without downlink entries). */
  private downlinks = new Map<string, Downlink>()
  private devices: SerialDevices | undefined
  private router: Router | undefined
  private pending: PendingBytes | undefined
  private http: HttpServer | undefined
  private started = 0
  private stopping: Promise<void> | undefined
  private readonly log: Logger

  constructor(private readonly opts: GatewayOptions) {
    this.log = opts.logger
  }

  get listeners(): ReadonlyArray<{ type: string; host: string; port: number }> {
    return this.broker?.addresses ?? []
  }

  /** The HTTP port (after start; 0 when HTTP is disabled). */
  get httpPort(): number {
    return this.http?.port ?? 0
  }

  async start(): Promise<void> {
    const { config } = this.opts
    const now = this.opts.now ?? Date.now
    this.started = now()
    try {
      const outbox = await Outbox.open({
        dir: config.dataDir,
        durability: config.outbox.durability,
        syncIntervalMs: config.outbox.syncIntervalMs,
        commitDelayMs: config.outbox.commitDelayMs,
        maxBytes: config.outbox.maxBytes,
        maxMessages: config.outbox.maxMessages,
        maxAgeSec: config.outbox.maxAgeSec,
        whenFull: config.outbox.whenFull,
        minFreeDiskBytes: config.outbox.minFreeDiskBytes,
        reserveBytes: config.outbox.reserveBytes,
        deadLetterMaxBytes: config.outbox.deadLetterMaxBytes,
        leveldb: config.outbox.leveldb,
        logger: this.log.child({ part: 'outbox' }),
        now,
        writeBatch: this.opts.writeBatch,
      })
      this.outbox = outbox
      this.log.info(
        {
          dataDir: config.dataDir,
          firstSeq: outbox.firstSeq,
          lastSeq: outbox.lastSeq,
          durability: outbox.durability,
        },
        'outbox open',
      )

      const router = new Router(config.routes, config.gatewayId, config.upstreams)
      const pending = new PendingBytes(config.broker.maxPendingBytes)
      this.router = router
      this.pending = pending
      const ingest = createIngest(router, outbox, { pending, now })
      const brokerLog = this.log.child({ part: 'broker' })
      const broker = new Broker({
        config: config.broker,
        ingest,
        pending,
        logger: brokerLog,
        openStore: sessionStoreOpener(config, brokerLog),
      })
      this.broker = broker
      this.devices = await createSerialDevices(config, ingest, broker, this.log.child({ part: 'devices' }))
      // Cursors for every configured upstream (the forwarders create them, so records are kept for
      // them); cursors of upstreams no longer configured are removed so they don't pin the disk.
      const upstreams = await createUpstreams(config, outbox, broker, this.log, this.opts.connectMqtt)
      this.forwarders = upstreams.forwarders
      this.downlinks = upstreams.downlinks
      const configured = new Set(config.upstreams.map((u) => u.name))
      for (const name of outbox.cursorNames()) {
        if (configured.has(name)) continue
        const abandoned = outbox.removeCursor(name)
        this.log.warn(
          { upstream: name, abandoned },
          'upstream no longer configured: its cursor was removed (counted as dropped)',
        )
      }
      await broker.start()
      this.devices?.start()
      for (const f of this.forwarders) f.start()
      for (const d of this.downlinks.values()) d.start()
      if (config.http.enabled) {
        this.http = new HttpServer({
          host: config.http.host,
          port: config.http.port,
          status: () => this.status(),
          logger: this.log.child({ part: 'http' }),
        })
        await this.http.start()
      }
      this.log.info(
        { gatewayId: config.gatewayId, listeners: broker.addresses, upstreams: configured.size },
        'gateway started',
      )
    } catch (err) {
      await this.stop().catch(() => undefined)
      throw err
    }
  }

  /** Stops everything in reverse order within `deadlineMs`. Idempotent. Rejects if a part failed to stop. */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= this.doStop(deadlineMs)
    return this.stopping
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const deadline = performance.now() + deadlineMs
    const left = () => Math.max(0, deadline - performance.now())
    const failures: string[] = []
    const step = async (what: string, fn: () => Promise<unknown>, budgetMs = left()) => {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          fn(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`timed out after ${Math.round(budgetMs)} ms`)),
              budgetMs,
            )
          }),
        ])
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`)
        this.log.error({ err, step: what }, 'stop step failed')
      } finally {
        clearTimeout(timer)
      }
    }
    const outbox = this.outbox
    const http = this.http
    if (http) await step('http', () => http.stop())
    const devices = this.devices
    if (devices) await step('devices', () => devices.stop())
    // Commands still arriving would find no broker; unacknowledged, they stay queued upstream.
    await step('downlinks', () => Promise.all([...this.downlinks.values()].map((d) => d.stop())))
    if (this.broker) await step('broker', () => (this.broker as Broker).stop())
    if (outbox) await step('pending appends', () => outbox.flush())
    if (this.forwarders.length > 0) {
      const drainMs = Math.min(2000, left() / 2)
      await step(
        'forwarder drain',
        () => Promise.all(this.forwarders.map((f) => f.drain(drainMs))),
        drainMs + 100,
      )
      const stopMs = Math.max(100, left() - 500)
      await step('forwarders', () => Promise.all(this.forwarders.map((f) => f.stop(stopMs))))
    }
    if (outbox) await step('outbox', () => outbox.close())
    if (failures.length > 0) {
      throw new GatewayError('OUTPOST_STOP_TIMEOUT', `stop incomplete: ${failures.join('; ')}`)
    }
    this.log.info({}, 'gateway stopped')
  }

  async status(): Promise<GatewayStatus> {
    const { config } = this.opts
    if (!this.outbox || !this.broker) throw new Error('gateway not started')
    const forwarders = new Map(
      this.forwarders.map((f) => [
        f.name,
        { ...f.status(), ...this.downlinks.get(f.name)?.status() } as GatewayStatus['upstreams'][number],
      ]),
    )
    return {
      gatewayId: config.gatewayId,
      uptimeMs: (this.opts.now ?? Date.now)() - this.started,
      listeners: this.broker.addresses,
      broker: { ...this.broker.counters },
      ingest: {
        pendingBytes: this.pending?.bytes ?? 0,
        pendingPeakBytes: this.pending?.peak ?? 0,
        maxPendingBytes: config.broker.maxPendingBytes,
        invalidTopicStored: this.router?.counters.invalidTopicStored ?? 0,
      },
      outbox: await this.outbox.stats(),
      upstreams: config.upstreams.flatMap((u) => forwarders.get(u.name) ?? []),
      devices: { serial: this.devices?.status() ?? [] },
      process: await processStats(),
    }
  }
}
