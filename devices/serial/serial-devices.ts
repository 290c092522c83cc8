// The configured serial devices, started and stopped together.
import type { SerialDeviceConfig } from '../../config/schema.js'
import type { DeviceLogger } from '../device-logger.js'
import type { DevicePublish } from '../device-publish.js'
import type { SerialDeviceStatus } from '../device-status.js'
import { SerialAdapter, type SerialAdapterOptions } from './serial-adapter.js'

export interface SerialDevicesOptions {
  devices: ReadonlyArray<{ config: SerialDeviceConfig; topic: (json: unknown) => string | undefined }>
  publish: DevicePublish
  logger: DeviceLogger
  /** Passed to every adapter (seams for tests: createLink, identify, pathCheckMs, …). */
  adapter?: Partial<Omit<SerialAdapterOptions, 'config' | 'topic' | 'publish' | 'logger'>>
}

export class SerialDevices {
  private readonly adapters: SerialAdapter[]

  constructor(opts: SerialDevicesOptions) {
    this.adapters = opts.devices.map(
      (d) =>
        new SerialAdapter({
          ...opts.adapter,
          config: d.config,
          topic: d.topic,
          publish: opts.publish,
          logger: opts.logger,
        }),
    )
  }

  start(): void {
    for (const a of this.adapters) a.start()
  }

  async stop(): Promise<void> {
    await Promise.all(this.adapters.map((a) => a.stop()))
  }

  status(): SerialDeviceStatus[] {
    return this.adapters.map((a) => a.status())
  }
}
