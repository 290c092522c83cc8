// The limit for `npm run bench -- drain`: mqtt.js publishing the messages a gateway would forward,
// straight to the cloud broker, from its own process (as the gateway pays for process separation too).
// Same client library and protocol (MQTT 5), QoS 1, the same window of publishes in flight as the
// gateway's maxInflight, the same topics, payloads and user properties as the gateway's forwarder.
//
// Not a benchmark (run.ts skips it): `node dist/scripts/bench/drain-publisher.js '{"url":…}'`. Prints
// `{"msg":"done",…}` with its own CPU and peak RSS when every message is acknowledged (or time is up).
import { connectAsync, type IClientPublishOptions } from 'mqtt'
import { deviceId, deviceTopic, telemetryPayloads } from './workload.js'

export interface PublisherArgs {
  url: string
  messages: number
  inflight: number
  payloadBytes: number
  devices: number
  gatewayId: string
  seconds: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as PublisherArgs
const payloads = telemetryPayloads(256, args.payloadBytes)
const topics = Array.from({ length: args.devices }, (_, i) => deviceTopic(i))
const origins = Array.from({ length: args.devices }, (_, i) => deviceId(i))

const client = await connectAsync(args.url, {
  protocolVersion: 5,
  clientId: `bench-limit-${process.pid}`,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 10_000,
})
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const deadline = t0 + args.seconds * 1000
let sent = 0
let acked = 0
let failed = 0
await new Promise<void>((resolve) => {
  let pending = 0
  const next = () => {
    while (pending < args.inflight && sent < args.messages && performance.now() < deadline) {
      const seq = ++sent
      const device = (seq - 1) % args.devices
      // What the gateway's forwarder sends for a record (mqtt-forwarder.ts): identity as user properties.
      const options: IClientPublishOptions = {
        qos: 1,
        retain: false,
        properties: {
          userProperties: {
            'outpost-gateway': args.gatewayId,
            'outpost-seq': String(seq),
            'outpost-ts': String(Date.now()),
            'outpost-origin': origins[device] as string,
          },
        },
      }
      pending++
      client.publish(
        topics[device] as string,
        payloads[(seq - 1) % payloads.length] as Buffer,
        options,
        (err) => {
          pending--
          if (err) failed++
          else acked++
          next()
        },
      )
    }
    if (pending === 0) resolve()
  }
  next()
})
const elapsedMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await client.endAsync()
console.log(
  JSON.stringify({
    msg: 'done',
    sent,
    acked,
    failed,
    elapsedMs,
    cpuUs: cpu.user + cpu.system,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
)
