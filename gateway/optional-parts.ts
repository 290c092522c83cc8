// The parts a config may not use, loaded only when it does: the MQTT forwarders and downlinks (mqtt.js),
// the Kafka forwarders (@platformatic/kafka), the serial devices (serialport) and the broker's session
// store (aedes-persistence-level). Each library costs memory as soon as it is imported — measured on the
// development VM, resident memory added by the import alone: @platformatic/kafka 36 MiB, serialport
// 8 MiB, mqtt.js 8 MiB — and a Pi Zero has 512 MiB.
import { join } from 'node:path'
import type { Config } from '../config/schema.js'
import type { SerialDevices } from '../devices/serial/serial-devices.js'
import type { Outbox } from '../store/outbox.js'
import type { Broker } from './broker/broker.js'
import type { SessionStore } from './broker/session-store.js'
import type { Downlink } from './forward/downlink.js'
import type { Forwarder } from './forward/forwarder.js'
import type { ConnectFn } from './forward/mqtt-connection.js'
import type { Ingest } from './ingest.js'
import type { Logger } from './logger.js'

export interface Upstreams {
  forwarders: Forwarder[]
  /** By MQTT upstream name (one per MQTT upstream; 'off' without downlink entries). */
  downlinks: Map<string, Downlink>
}

/** A forwarder per upstream (and a downlink per MQTT upstream), not started. */
export async function createUpstreams(
  config: Config,
  outbox: Outbox,
  broker: Broker,
  log: Logger,
  connectMqtt: ConnectFn | undefined,
): Promise<Upstreams> {
  const out: Upstreams = { forwarders: [], downlinks: new Map() }
  const mqttUpstreams = config.upstreams.filter((u) => u.type === 'mqtt')
  const kafkaUpstreams = config.upstreams.filter((u) => u.type === 'kafka')
  if (mqttUpstreams.length > 0) {
    const [{ connect }, { MqttForwarder }, { Downlink }, { readTls, uplinkClientId }] = await Promise.all([
      import('mqtt'),
      import('./forward/mqtt-forwarder.js'),
      import('./forward/downlink.js'),
      import('./forward/mqtt-connection.js'),
    ])
    for (const u of mqttUpstreams) {
      out.forwarders.push(
        new MqttForwarder({
          config: u,
          gatewayId: config.gatewayId,
          outbox,
          logger: log.child({ part: 'forward' }),
          connect: connectMqtt,
        }),
      )
      out.downlinks.set(
        u.name,
        new Downlink({
          config: u,
          downlink: config.downlink,
          gatewayId: config.gatewayId,
          uplinkClientId: uplinkClientId(u, config.gatewayId),
          publishLocal: (msg) => broker.publishLocal(msg),
          connect: connectMqtt ?? connect,
          tls: readTls(u),
          logger: log.child({ part: 'forward', upstream: u.name }),
        }),
      )
    }
  }
  if (kafkaUpstreams.length > 0) {
    const { KafkaForwarder } = await import('./forward/kafka-forwarder.js')
    for (const u of kafkaUpstreams) {
      out.forwarders.push(
        new KafkaForwarder({
          config: u,
          gatewayId: config.gatewayId,
          outbox,
          logger: log.child({ part: 'forward' }),
        }),
      )
    }
  }
  // In the order of the config: stop and status go by it.
  const order = new Map(config.upstreams.map((u, i) => [u.name, i]))
  out.forwarders.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
  return out
}

/** The serial devices of the config (not started), or undefined when it has none. */
export async function createSerialDevices(
  config: Config,
  ingest: Ingest,
  broker: Broker,
  log: Logger,
): Promise<SerialDevices | undefined> {
  if (config.devices.serial.length === 0) return undefined
  const [{ SerialDevices }, { compileDeviceTopic }, { createDevicePublish }] = await Promise.all([
    import('../devices/serial/serial-devices.js'),
    import('../config/device-topic.js'),
    import('./device-publish.js'),
  ])
  return new SerialDevices({
    devices: config.devices.serial.map((d) => ({
      config: d,
      topic: compileDeviceTopic(d.topic, d.framing, { device: d.name, gatewayId: config.gatewayId }),
    })),
    publish: createDevicePublish(ingest, (msg) => broker.publishLocal(msg), log),
    logger: log,
  })
}

/**
 * How the broker opens its session store: a LevelDB in <dataDir>/broker (broker.persistence: level), or
 * undefined (memory: aedes's own, lost on restart).
 */
export function sessionStoreOpener(config: Config, log: Logger): (() => Promise<SessionStore>) | undefined {
  if (config.broker.persistence !== 'level') return undefined
  return async () => {
    const { openSessionStore } = await import('./broker/session-store.js')
    return openSessionStore(join(config.dataDir, 'broker'), log)
  }
}
