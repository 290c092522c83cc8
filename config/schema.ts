// The single source of truth for Outpost's configuration. Types are inferred from it, the JSON Schema
// for editors (config/outpost.schema.json) is generated from it, and every example config is tested
// against it. Units live in key names (…Ms, …Sec, …Bytes) unless a value is a size string.
import { isIP } from 'node:net'
import { z } from 'zod'
import { parseDeviceTopic } from './device-topic.js'
import { checkKafka } from './kafka-checks.js'
import { parseSize } from './size.js'
import { captureCount, parseFilter, parseTemplate } from './topic-pattern.js'

/** A byte size: a whole number of bytes or a string such as "512MiB" or "1GiB". */
const size = (what: string) =>
  z
    .union([z.number().int().nonnegative(), z.string()])
    .transform((value, ctx) => {
      if (typeof value === 'number') return value
      const bytes = parseSize(value)
      if (bytes === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected ${what} as a number of bytes or a size such as "512MiB" or "1GiB", got "${value}"`,
        })
        return z.NEVER
      }
      return bytes
    })
    .meta({ description: `${what}: bytes, or a size string such as "512MiB"` })

const port = z.number().int().min(0).max(65535)
const host = z.string().min(1)
const filePath = z.string().min(1)
// Names end up in metric labels, cursor keys and default client ids: keep them plain.
const name = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'expected 1-64 letters, digits, "_", "-" or "." (starting with a letter or digit)',
  )

const topicFilter = z.string().superRefine((value, ctx) => {
  const parsed = parseFilter(value)
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error })
})

const tcpListener = z.strictObject({
  type: z.literal('tcp'),
  host: host.default('127.0.0.1'),
  port: port.default(1883),
})
const tlsListener = z.strictObject({
  type: z.literal('tls'),
  host: host.default('0.0.0.0'),
  port: port.default(8883),
  certFile: filePath,
  keyFile: filePath,
  caFile: filePath
    .optional()
    .describe('CA for client certificates; with requireClientCert devices must present one (mTLS).'),
  requireClientCert: z.boolean().default(false),
})
const wsListener = z.strictObject({
  type: z.literal('ws'),
  host: host.default('127.0.0.1'),
  port: port.default(8080),
  path: z.string().startsWith('/').default('/mqtt'),
})
const listener = z.discriminatedUnion('type', [tcpListener, tlsListener, wsListener])

// Per-client ingest limits (README "Limits"). A token bucket per client and unit; over it, the broker
// stops reading from that client until the bucket has refilled, so TCP pushes back on the device.
const rate = (what: string) =>
  z.number().nonnegative().describe(`${what} per second a client may publish, on average (0: no limit).`)
const limitFields = {
  messagesPerSec: rate('Messages'),
  bytesPerSec: size('bytesPerSec').describe(
    'Topic and payload bytes per second a client may publish, on average (0: no limit).',
  ),
  burstSec: z
    .number()
    .positive()
    .max(3600)
    .describe('How many seconds of the rates a client may send at once after being quiet (the bucket size).'),
  maxThrottledSec: z
    .number()
    .nonnegative()
    .describe(
      'A client held back by its limits without a pause for longer than this is disconnected (0: never).',
    ),
}
const limits = z.strictObject({
  messagesPerSec: limitFields.messagesPerSec.default(1000),
  bytesPerSec: limitFields.bytesPerSec.default(2 ** 20),
  burstSec: limitFields.burstSec.default(2),
  maxThrottledSec: limitFields.maxThrottledSec.default(10),
})
/** A user's overrides of broker.limits; what is left out comes from there. */
const userLimits = z
  .strictObject({
    messagesPerSec: limitFields.messagesPerSec.optional(),
    bytesPerSec: limitFields.bytesPerSec.optional(),
    burstSec: limitFields.burstSec.optional(),
    maxThrottledSec: limitFields.maxThrottledSec.optional(),
  })
  .describe("This user's limits, overriding broker.limits key by key.")

const user = z.strictObject({
  // A username is substituted for %u in topic filters: wildcards or "/" in it would widen them.
  username: z
    .string()
    .min(1)
    .regex(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing NUL is the point
      /^[^+#/\u0000]+$/,
      'a username must not contain "+", "#", "/" or NUL (it is substituted for %u in topic filters)',
    ),
  passwordHash: z
    .string()
    .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, {
      message: 'expected a hash line from `outpost passwd USER` (scrypt$N$r$p$salt$hash)',
    })
    .describe('A hash line from `outpost passwd USER`: scrypt$N$r$p$salt$hash (base64)'),
  publish: z
    .array(topicFilterWithUser())
    .default(['#'])
    .describe('Topic filters this user may publish to; %u is replaced by the username.'),
  subscribe: z
    .array(topicFilterWithUser())
    .default(['#'])
    .describe('Topic filters this user may subscribe to; %u is replaced by the username.'),
  limits: userLimits.optional(),
})

function topicFilterWithUser() {
  return z.string().superRefine((value, ctx) => {
    const parsed = parseFilter(value.replaceAll('%u', 'user'))
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error })
  })
}

const broker = z.strictObject({
  listeners: z
    .array(listener)
    .min(1)
    .default([{ type: 'tcp', host: '127.0.0.1', port: 1883 }]),
  allowAnonymous: z
    .boolean()
    .default(false)
    .describe(
      'Devices may connect without a username. Only on loopback listeners unless forceAnonymous is set.',
    ),
  forceAnonymous: z.boolean().default(false),
  users: z.array(user).default([]),
  maxPacketBytes: size('maxPacketBytes')
    .default(262144)
    .describe('A packet larger than this disconnects its client (counted and logged).'),
  limits: limits
    .prefault({})
    .describe('Per-client publish limits (token buckets); users[].limits override them per user.'),
  maxPendingBytes: size('maxPendingBytes')
    .default(8 * 2 ** 20)
    .describe(
      'Messages handed to the outbox and not yet committed, at most (their size in memory, estimated). ' +
        'Over it, the broker stops reading from the clients filling it until commits catch up.',
    ),
  connectTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('A connection that sends no CONNECT within this time is closed (counted as connect_timeout).'),
  // Issue #10, item 3: local sessions survive a restart (gateway/broker/session-store.ts).
  persistence: z
    .enum(['level', 'memory'])
    .default('level')
    .describe(
      'Where the broker keeps retained messages and persistent sessions (clean: false: subscriptions and ' +
        'the QoS 1/2 messages queued for them). level: a LevelDB in <dataDir>/broker, kept across restarts. ' +
        'memory: lost on every restart.',
    ),
})

const durability = z.enum(['fsync', 'batch', 'none'])

const outbox = z.strictObject({
  durability: durability
    .default('fsync')
    .describe(
      'fsync: PUBACK after the batch is on disk. batch: fsync at most every syncIntervalMs. none: OS buffers.',
    ),
  syncIntervalMs: z.number().int().min(1).max(60000).default(100),
  commitDelayMs: z
    .number()
    .min(0)
    .max(1000)
    .default(0)
    .describe(
      'fsync mode: appends wait up to this long to share an fsync (fewer SD-card writes for sparse loads); the PUBACK still follows the fsync.',
    ),
  maxBytes: size('maxBytes').default(2 ** 30),
  maxMessages: z.number().int().positive().optional(),
  maxAgeSec: z.number().int().positive().optional(),
  whenFull: z.enum(['reject', 'drop-oldest']).default('reject'),
  minFreeDiskBytes: size('minFreeDiskBytes')
    .default(64 * 2 ** 20)
    .describe('Below this much free disk space, appends are refused (reason "disk") before the disk fills.'),
  reserveBytes: size('reserveBytes')
    .default(8 * 2 ** 20)
    .describe('Space set aside in the data dir and released when the disk fills, so the outbox can recover.'),
  deadLetterMaxBytes: size('deadLetterMaxBytes')
    .default(64 * 2 ** 20)
    .describe('Dead letters are bounded by this many bytes: the oldest go first, counted as evicted.'),
  leveldb: z
    .strictObject({
      cacheSize: size('cacheSize')
        .default(2 * 2 ** 20)
        .describe('LevelDB block cache, bytes (classic-level: 8 MiB).'),
      writeBufferSize: size('writeBufferSize')
        .default(2 * 2 ** 20)
        .describe('LevelDB memtable, bytes, held twice while it is written out (classic-level: 4 MiB).'),
      maxOpenFiles: z
        .number()
        .int()
        .min(74)
        .default(74)
        .describe(
          'Table files LevelDB keeps open (its minimum: 74; classic-level: 1000). On 64-bit systems each is mapped: the pages read count in RSS until it closes, so this × maxFileSize bounds that part.',
        ),
      maxFileSize: size('maxFileSize')
        .default(256 * 1024)
        .describe('Size of a LevelDB table file, bytes (classic-level: 2 MiB).'),
    })
    .prefault({})
    .describe("The outbox database's own memory (the Pi profile in README.md lowers it)."),
})

const backoff = z.strictObject({
  minMs: z.number().int().min(1).default(500),
  maxMs: z.number().int().min(1).default(30000),
})

const mqttUpstream = z.strictObject({
  name,
  type: z.literal('mqtt'),
  url: z
    .string()
    .regex(
      /^(mqtts?|wss?):\/\/[^/]+/,
      'expected a URL such as mqtt://host:1883, mqtts://host:8883 or wss://host/mqtt',
    ),
  clientId: z.string().min(1).max(256).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  caFile: filePath.optional(),
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  servername: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
  protocolVersion: z
    .union([z.literal(4), z.literal(5)])
    .default(5)
    .describe("5 carries each message's identity as user properties; 4 (MQTT 3.1.1) cannot."),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  maxInflight: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .default(100)
    .describe('Messages published and not yet acknowledged, at most.'),
  keepaliveSec: z.number().int().min(0).max(65535).default(30),
  connectTimeoutMs: z.number().int().min(100).default(10000),
  ackTimeoutMs: z
    .number()
    .int()
    .min(100)
    .default(30000)
    .describe(
      'No acknowledgement for the oldest message in flight within this long: the upstream is "stalled" (status, metrics), and the forwarder reconnects and resends.',
    ),
  poisonAfterDisconnects: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(3)
    .describe(
      'After the upstream drops the connection this many times in a row with the same oldest message unacknowledged (and nothing acknowledged since), that message is sent alone; if the connection drops again, it is dead-lettered ("upstream-disconnect"). 0: never.',
    ),
  reconnect: backoff.prefault({}),
  maxRatePerSec: z
    .number()
    .positive()
    .optional()
    .describe('Cap on forwarded messages per second (a long backlog must not flood a metered link).'),
  downlinkClientId: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('Client id of the downlink connection (default: the uplink client id + "-downlink").'),
  downlinkSessionExpirySec: z
    .number()
    .int()
    .min(0)
    .max(4294967295)
    .default(604800)
    .describe(
      'MQTT 5: how long the upstream keeps the downlink session, queueing commands, while the gateway is away.',
    ),
})

const kafkaUpstream = z.strictObject({
  name,
  type: z.literal('kafka'),
  brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1),
  clientId: z.string().min(1).optional(),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: z.string(),
    })
    .optional(),
  tls: z
    .strictObject({
      caFile: filePath.optional(),
      certFile: filePath.optional(),
      keyFile: filePath.optional(),
      servername: z.string().optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
  acks: z.enum(['all', 'leader']).default('all'),
  maxInflight: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(1000)
    .describe('Records in one produce batch (sent, not yet acknowledged), at most.'),
  batchBytes: size('batchBytes')
    .default(2 ** 20)
    .describe('Bytes of records in one produce batch, at most (one record larger than this goes alone).'),
  lingerMs: z
    .number()
    .int()
    .min(0)
    .max(10000)
    .default(5)
    .describe('How long a batch short of maxInflight records waits for more before it is sent.'),
  ackTimeoutMs: z
    .number()
    .int()
    .min(100)
    .default(30000)
    .describe('No acknowledgement for a batch within this long: the upstream shows as stalled.'),
  reconnect: backoff.prefault({}),
  maxRatePerSec: z.number().positive().optional(),
})

const upstream = z.discriminatedUnion('type', [mqttUpstream, kafkaUpstream])

const route = z.strictObject({
  match: topicFilter,
  to: z.array(z.string()).min(1),
  topic: z
    .string()
    .min(1)
    .default('{topic}')
    .describe('Topic upstream (a Kafka topic name for Kafka upstreams).'),
  key: z.string().optional().describe('Kafka message key.'),
  invalidTopic: z
    .enum(['refuse', 'dead-letter'])
    .default('refuse')
    .describe(
      'When a message would get an invalid topic upstream (an empty capture, a client id with "+" or "#", ' +
        'not a legal Kafka topic): refuse it at the door (no PUBACK, client disconnected), or store it ' +
        "unchanged for that upstream's forwarder to dead-letter.",
    ),
})

const downlink = z.strictObject({
  from: z.string(),
  match: topicFilter,
  topic: z.string().min(1).default('{topic}'),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
})

// modbus-rtu: the registers to poll (README "Modbus RTU"). Addresses are the wire's, 0-based: what a
// manual lists as holding register 40001 (or 400001) is `type: holding, address: 0`.
const modbusUnit = z
  .number()
  .int()
  .min(1)
  .max(247)
  .describe('A slave address, 1-247 (0 is broadcast, which no slave answers).')
const modbusRegister = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'expected a letter or "_", then letters, digits, "_" or "-"')
    .describe('The key of this value in the published JSON ("values": {NAME: …}).'),
  type: z.enum(['holding', 'input']).describe('holding: function 0x03; input: function 0x04.'),
  address: z.number().int().min(0).max(65535).describe('The first register, 0-based as on the wire.'),
  count: z
    .number()
    .int()
    .min(1)
    .max(125)
    .default(1)
    .describe('Values of this format to read from consecutive registers; more than 1 publishes an array.'),
  format: z
    .enum(['uint16', 'int16', 'uint32', 'int32', 'float32'])
    .default('uint16')
    .describe('32-bit formats span two registers (see wordOrder).'),
  wordOrder: z
    .enum(['high-first', 'low-first'])
    .default('high-first')
    .describe('32-bit formats: which register holds the high word (high-first: ABCD; low-first: CDAB).'),
  scale: z
    .number()
    .refine((v) => Number.isFinite(v) && v !== 0, 'expected a finite number other than 0')
    .optional()
    .describe('Multiply the raw value by this (e.g. 0.1 for a register in tenths).'),
})
const modbusSettings = z
  .strictObject({
    unitId: modbusUnit.optional().describe('The one slave to poll (or units: several).'),
    units: z.array(modbusUnit).min(1).max(247).optional().describe('Slaves to poll, in this order.'),
    intervalMs: z.number().int().min(10).default(5000).describe('A poll (every unit) starts this often.'),
    timeoutMs: z
      .number()
      .int()
      .min(10)
      .max(60000)
      .default(1000)
      .describe('How long one request waits for its response.'),
    registers: z.array(modbusRegister).min(1).describe('What each poll reads from every unit.'),
  })
  .superRefine((m, ctx) => {
    if ((m.unitId === undefined) === (m.units === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['unitId'], message: 'set either unitId or units (not both)' })
    }
    const units = new Set<number>()
    m.units?.forEach((u, i) => {
      if (units.has(u))
        ctx.addIssue({ code: 'custom', path: ['units', i], message: `unit ${u} is listed twice` })
      units.add(u)
    })
    const names = new Set<string>()
    m.registers.forEach((r, i) => {
      if (names.has(r.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['registers', i, 'name'],
          message: `duplicate name "${r.name}"`,
        })
      }
      names.add(r.name)
      const span = r.count * (r.format === 'uint16' || r.format === 'int16' ? 1 : 2)
      // [Modbus Application Protocol §6.3, §6.4] one read returns at most 125 registers.
      if (span > 125) {
        ctx.addIssue({
          code: 'custom',
          path: ['registers', i, 'count'],
          message: `${r.count} × ${r.format} spans ${span} registers; one read returns at most 125`,
        })
      }
      if (r.address + span > 65536) {
        ctx.addIssue({
          code: 'custom',
          path: ['registers', i, 'address'],
          message: `registers ${r.address}..${r.address + span - 1} run past the last address (65535)`,
        })
      }
    })
  })

// A serial device: one port, one framing, one topic. See README "Serial devices".
const serialDevice = z.strictObject({
  name,
  path: filePath.describe(
    'The port. Prefer /dev/serial/by-id/… (stable across reboots and re-plugging) over /dev/ttyUSB0.',
  ),
  baudRate: z.number().int().positive().default(9600),
  dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
  // 1.5 stop bits exist on Windows only; Linux termios has 1 and 2.
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  rtscts: z.boolean().default(false).describe('Hardware (RTS/CTS) flow control.'),
  framing: z
    .enum(['lines', 'json-lines', 'nmea', 'cobs', 'slip', 'modbus-rtu'])
    .default('lines')
    .describe(
      'lines: one message per line. json-lines: each line is JSON. nmea: NMEA 0183 sentences (checksum verified), published as JSON. cobs, slip: binary frames. modbus-rtu: poll Modbus registers (see modbus), published as JSON.',
    ),
  modbus: modbusSettings
    .optional()
    .describe('modbus-rtu only: the units and registers to poll, and how often.'),
  delimiter: z
    .string()
    .min(1)
    .max(8)
    .default('\n')
    .describe(
      'lines, json-lines: what ends a line; a "\\r" next to it is dropped (so "\\r\\n" works as well).',
    ),
  maxFrameBytes: size('maxFrameBytes')
    .default(65536)
    .describe('A longer line or frame is discarded up to its end and counted (reason "overlong").'),
  topic: z
    .string()
    .min(1)
    .describe(
      'Topic template: {device}, {gatewayId}, {json.FIELD} for json-lines, nmea and modbus-rtu, and {unit} for modbus-rtu.',
    ),
  qos: z.union([z.literal(0), z.literal(1)]).default(1),
  reopen: backoff
    .prefault({})
    .describe('Retry delays while the port is missing or after it was lost (exponential, jittered).'),
})

const http = z.strictObject({
  enabled: z.boolean().default(true),
  host: host.default('127.0.0.1'),
  port: port.default(9180),
})

const log = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: 'editor hint; ignored' }),
    gatewayId: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
        'expected letters, digits, "_", "-" or "." (no "/", "+" or "#")',
      )
      .optional()
      .describe(
        'Identifies this gateway upstream (topics, message identity); one per gateway. Required when upstreams are configured; without upstreams it defaults to the host name.',
      ),
    dataDir: filePath
      .default('./data')
      .describe(
        'The outbox (outbox/) and the local session store (broker/) live here; relative paths are relative to the working directory',
      ),
    log: log.prefault({}),
    broker: broker.prefault({}),
    outbox: outbox.prefault({}),
    upstreams: z.array(upstream).default([]),
    routes: z.array(route).default([]),
    downlink: z.array(downlink).default([]),
    devices: z.strictObject({ serial: z.array(serialDevice).default([]) }).prefault({}),
    http: http.prefault({}),
  })
  .superRefine(checkReferences, { when: () => true })

type Draft = z.output<typeof configSchema>

// Runs even when other parts of the config are invalid (so every problem is reported at once), which
// means it sees a partly parsed value: every access below is defensive.
type Loose = Record<string, unknown>
const list = (v: unknown): Loose[] =>
  Array.isArray(v) ? v.filter((x): x is Loose => typeof x === 'object' && x !== null) : []
const obj = (v: unknown): Loose => (typeof v === 'object' && v !== null ? (v as Loose) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** Checks that need the whole config: names that refer to each other, templates against their filters. */
function checkReferences(config: unknown, ctx: z.RefinementCtx): void {
  const root = obj(config)
  const upstreams = new Map<string, string>()
  const upstreamList = Array.isArray(root.upstreams) ? (root.upstreams as unknown[]) : []
  upstreamList.forEach((raw, i) => {
    const u = obj(raw)
    const uname = str(u.name)
    if (uname === undefined) return
    if (upstreams.has(uname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'name'],
        message: `duplicate upstream name "${uname}"`,
      })
    }
    upstreams.set(uname, str(u.type) ?? '?')
    const reconnect = obj(u.reconnect)
    if (
      typeof reconnect.minMs === 'number' &&
      typeof reconnect.maxMs === 'number' &&
      reconnect.minMs > reconnect.maxMs
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'reconnect'],
        message: 'minMs must not exceed maxMs',
      })
    }
    if (u.type === 'mqtt' && u.downlinkClientId !== undefined && u.downlinkClientId === u.clientId) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'downlinkClientId'],
        message: 'must differ from clientId (the two connections would keep disconnecting each other)',
      })
    }
    if (u.type === 'mqtt' && (u.certFile === undefined) !== (u.keyFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, u.certFile === undefined ? 'certFile' : 'keyFile'],
        message: 'certFile and keyFile go together (client certificate and its key)',
      })
    }
  })
  const known = [...upstreams.keys()]
  const knownText = known.length ? known.map((n) => `"${n}"`).join(', ') : 'none are configured'

  const routes = Array.isArray(root.routes) ? (root.routes as unknown[]) : []
  routes.forEach((raw, i) => {
    const r = obj(raw)
    const to = Array.isArray(r.to) ? (r.to as unknown[]) : []
    to.forEach((target, j) => {
      if (typeof target === 'string' && !upstreams.has(target)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'to', j],
          message: `unknown upstream "${target}" (upstreams: ${knownText})`,
        })
      }
    })
    checkTemplates(ctx, ['routes', i], str(r.match), { topic: str(r.topic) ?? '{topic}', key: str(r.key) })
  })

  const downlinks = Array.isArray(root.downlink) ? (root.downlink as unknown[]) : []
  downlinks.forEach((raw, i) => {
    const d = obj(raw)
    const from = str(d.from)
    if (from === undefined) return
    const type = upstreams.get(from)
    if (type === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['downlink', i, 'from'],
        message: `unknown upstream "${from}" (upstreams: ${knownText})`,
      })
    } else if (type !== 'mqtt') {
      ctx.addIssue({
        code: 'custom',
        path: ['downlink', i, 'from'],
        message: `downlink needs an mqtt upstream; "${from}" is ${type}`,
      })
    }
    checkTemplates(ctx, ['downlink', i], str(d.match), { topic: str(d.topic) ?? '{topic}' })
  })

  const devices = new Set<string>()
  list(obj(root.devices).serial).forEach((d, i) => {
    const dname = str(d.name)
    if (dname === undefined) return
    if (devices.has(dname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'serial', i, 'name'],
        message: `duplicate device name "${dname}"`,
      })
    }
    devices.add(dname)
  })
  const paths = new Map<string, number>()
  list(obj(root.devices).serial).forEach((d, i) => {
    const path = str(d.path)
    if (path !== undefined && paths.has(path)) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'serial', i, 'path'],
        message: `devices.serial[${paths.get(path)}] reads the same port`,
      })
    }
    if (path !== undefined && !paths.has(path)) paths.set(path, i)
    const topic = str(d.topic)
    if (topic !== undefined) {
      const parsed = parseDeviceTopic(topic, str(d.framing) ?? 'lines')
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', path: ['devices', 'serial', i, 'topic'], message: parsed.error })
      }
    }
    const reopen = obj(d.reopen)
    if (typeof reopen.minMs === 'number' && typeof reopen.maxMs === 'number' && reopen.minMs > reopen.maxMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'serial', i, 'reopen'],
        message: 'minMs must not exceed maxMs',
      })
    }
    if (d.framing === 'modbus-rtu' && d.modbus === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'serial', i, 'modbus'],
        message: 'framing modbus-rtu needs modbus: { unitId or units, registers, … }',
      })
    }
    if (d.framing !== 'modbus-rtu' && d.modbus !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'serial', i, 'modbus'],
        message: `modbus settings go with framing modbus-rtu; this device uses "${str(d.framing) ?? 'lines'}"`,
      })
    }
  })

  // [DESIGN] anonymous access is accepted only where every listener is loopback, unless forced.
  const broker = obj(root.broker)
  if (broker.allowAnonymous === true && broker.forceAnonymous !== true) {
    const listeners = Array.isArray(broker.listeners) ? (broker.listeners as unknown[]) : []
    listeners.forEach((raw, i) => {
      const l = obj(raw)
      const lhost = str(l.host) ?? (l.type === 'tls' ? '0.0.0.0' : '127.0.0.1')
      if (!isLoopback(lhost)) {
        ctx.addIssue({
          code: 'custom',
          path: ['broker', 'listeners', i, 'host'],
          message: `allowAnonymous is only accepted on loopback listeners (127.0.0.1, ::1, localhost); this one listens on "${lhost}". Add users, bind to loopback, or set broker.forceAnonymous: true`,
        })
      }
    })
  }

  checkKafka(config, ctx)
}

function checkTemplates(
  ctx: z.RefinementCtx,
  path: (string | number)[],
  match: string | undefined,
  templates: { topic: string; key?: string | undefined },
): void {
  if (match === undefined) return
  const filter = parseFilter(match)
  if (!filter.ok) return // reported on the filter itself
  const captures = captureCount(filter.value)
  for (const [field, template] of Object.entries(templates)) {
    if (template === undefined) continue
    const parsed = parseTemplate(template, captures, field === 'key' ? 'key' : 'topic')
    if (!parsed.ok) ctx.addIssue({ code: 'custom', path: [...path, field], message: parsed.error })
  }
}

export function isLoopback(address: string): boolean {
  if (address === 'localhost') return true
  if (isIP(address) === 4) return address.startsWith('127.')
  if (isIP(address) === 6) return address === '::1'
  return false
}

/** The config as written in YAML (sizes may be strings, defaults may be missing). */
export type ConfigInput = z.input<typeof configSchema>
/** The validated config, defaults filled in, gatewayId resolved. */
export type Config = Readonly<Omit<Draft, 'gatewayId'> & { gatewayId: string }>
export type ListenerConfig = Draft['broker']['listeners'][number]
export type UpstreamConfig = Draft['upstreams'][number]
export type MqttUpstreamConfig = Extract<UpstreamConfig, { type: 'mqtt' }>
export type KafkaUpstreamConfig = Extract<UpstreamConfig, { type: 'kafka' }>
export type RouteConfig = Draft['routes'][number]
export type DownlinkConfig = Draft['downlink'][number]
export type OutboxConfig = Draft['outbox']
export type UserConfig = Draft['broker']['users'][number]
export type LimitsConfig = Draft['broker']['limits']
export type SerialDeviceConfig = Draft['devices']['serial'][number]
export type Durability = z.infer<typeof durability>
