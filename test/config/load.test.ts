// Loading a config: the bundled files validate, defaults are filled in, ${VAR} substitution, every
// problem reported at once with its path, cross-references, freezing and the default gateway id.
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import type { ConfigProblem } from '../../config/errors.js'
import { formatPath, loadConfigFile, parseConfigText } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { verifyPassword } from '../../gateway/broker/password.js'
import { configErrorOf, messageAt, pathsOf, problemsOf } from '../helpers/config.js'
import { tempDir } from '../helpers/tmp.js'

const DEFAULT_YAML = fileURLToPath(new URL('../../config/default.yaml', import.meta.url))
const EXAMPLE_YAML = fileURLToPath(new URL('../../config/example.yaml', import.meta.url))
const SECRETS = { CLOUD_PASSWORD: 'cloud-secret', KAFKA_PASSWORD: 'kafka-secret' }
const GiB = 2 ** 30
const MiB = 2 ** 20

/** Parses YAML text with an empty environment (unless given) and a fixed default gateway id. */
function parse(text: string, env: Record<string, string> = {}): Config {
  return parseConfigText(text, 'test.yaml', { env, defaultGatewayId: 'gw-test' })
}

function writeConfig(text: string, name = 'outpost.yaml'): string {
  const file = join(tempDir(), name)
  writeFileSync(file, text)
  return file
}

const MQTT_UPSTREAM = '{ name: cloud, type: mqtt, url: "mqtt://cloud.example:1883" }'
const KAFKA_UPSTREAM = '{ name: lake, type: kafka, brokers: ["kafka1:9092"] }'

describe('the bundled configs', () => {
  test('config/default.yaml validates: loopback broker, anonymous allowed there, no upstream, fsync outbox', () => {
    const config = loadConfigFile(DEFAULT_YAML, { env: {}, defaultGatewayId: 'pi-test' })
    expect(config.gatewayId).toBe('pi-test')
    expect(config.dataDir).toBe('./data')
    expect(config.broker.listeners).toEqual([{ type: 'tcp', host: '127.0.0.1', port: 1883 }])
    expect(config.broker.allowAnonymous).toBe(true)
    expect(config.broker.maxPacketBytes).toBe(256 * 1024)
    expect(config.outbox).toMatchObject({ durability: 'fsync', maxBytes: GiB, whenFull: 'reject' })
    expect(config.upstreams).toEqual([])
    expect(config.routes).toEqual([])
    expect(config.http).toEqual({ enabled: true, host: '127.0.0.1', port: 9180 })
  })

  test('config/example.yaml validates with its secrets in the environment', () => {
    const config = loadConfigFile(EXAMPLE_YAML, { env: SECRETS })
    expect(config.gatewayId).toBe('pi-barn-01')
    expect(config.broker.listeners.map((l) => `${l.type} ${l.host}:${l.port}`)).toEqual([
      'tcp 0.0.0.0:1883',
      'tls 0.0.0.0:8883',
      'ws 0.0.0.0:8080',
    ])
    expect(config.outbox).toEqual({
      durability: 'fsync',
      syncIntervalMs: 100,
      commitDelayMs: 0,
      maxBytes: 4 * GiB,
      maxMessages: 50_000_000,
      maxAgeSec: 2_592_000,
      whenFull: 'drop-oldest',
      minFreeDiskBytes: 256 * MiB,
      reserveBytes: 16 * MiB,
      deadLetterMaxBytes: 64 * MiB,
      leveldb: { cacheSize: 2 * MiB, writeBufferSize: 2 * MiB, maxOpenFiles: 74, maxFileSize: 256 * 1024 },
    })
    const [cloud, lake] = config.upstreams
    expect(cloud).toMatchObject({
      name: 'cloud',
      type: 'mqtt',
      password: 'cloud-secret',
      maxRatePerSec: 2000,
    })
    expect(lake).toMatchObject({ name: 'lake', type: 'kafka', compression: 'lz4' })
    expect(lake?.type === 'kafka' ? lake.sasl?.password : undefined).toBe('kafka-secret')
    expect(config.routes).toHaveLength(4)
    expect(config.downlink).toEqual([
      { from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 },
    ])
    expect(config.devices.serial.map((d) => d.name)).toEqual(['meter', 'gps', 'weather'])
  })

  test("config/example.yaml's user hashes verify the passwords its comments document", async () => {
    const config = loadConfigFile(EXAMPLE_YAML, { env: SECRETS })
    const byName = new Map(config.broker.users.map((u) => [u.username, u.passwordHash]))
    expect(await verifyPassword('sensor-1-secret', byName.get('sensor-1') ?? '')).toBe(true)
    expect(await verifyPassword('dashboard-secret', byName.get('dashboard') ?? '')).toBe(true)
    expect(await verifyPassword('dashboard-secret', byName.get('sensor-1') ?? '')).toBe(false)
  })

  test('config/example.yaml without its secrets: an error per unset variable, or warnings with missingEnv warn', () => {
    const problems = problemsOf(() => loadConfigFile(EXAMPLE_YAML, { env: {} }))
    expect(problems).toEqual([
      { path: 'upstreams[0].password', message: 'environment variable CLOUD_PASSWORD is not set' },
      { path: 'upstreams[1].sasl.password', message: 'environment variable KAFKA_PASSWORD is not set' },
    ])

    const warnings: ConfigProblem[] = []
    const config = loadConfigFile(EXAMPLE_YAML, {
      env: {},
      missingEnv: 'warn',
      onWarning: (p) => warnings.push(p),
    })
    expect(warnings).toEqual(problems)
    // Left as written, so nothing pretends the secret was there.
    expect(config.upstreams[0]).toMatchObject({ password: '${CLOUD_PASSWORD}' })
  })
})

describe('defaults', () => {
  test('an empty file is a complete config with every default filled in', () => {
    const expected = {
      gatewayId: 'gw-test',
      dataDir: './data',
      log: { level: 'info' },
      broker: {
        listeners: [{ type: 'tcp', host: '127.0.0.1', port: 1883 }],
        allowAnonymous: false,
        forceAnonymous: false,
        users: [],
        maxPacketBytes: 262144,
        limits: { messagesPerSec: 1000, bytesPerSec: MiB, burstSec: 2, maxThrottledSec: 10 },
        maxPendingBytes: 8 * MiB,
        connectTimeoutMs: 30000,
        persistence: 'level',
      },
      outbox: {
        durability: 'fsync',
        syncIntervalMs: 100,
        commitDelayMs: 0,
        maxBytes: GiB,
        whenFull: 'reject',
        minFreeDiskBytes: 64 * MiB,
        reserveBytes: 8 * MiB,
        deadLetterMaxBytes: 64 * MiB,
        leveldb: { cacheSize: 2 * MiB, writeBufferSize: 2 * MiB, maxOpenFiles: 74, maxFileSize: 256 * 1024 },
      },
      upstreams: [],
      routes: [],
      downlink: [],
      devices: { serial: [] },
      http: { enabled: true, host: '127.0.0.1', port: 9180 },
    }
    expect(parse('')).toEqual(expected)
    expect(parse('# only a comment\n')).toEqual(expected)
  })

  test('a partly written section keeps the defaults of the keys it leaves out', () => {
    const config = parse('outbox: { whenFull: drop-oldest }\nbroker: { allowAnonymous: true }\n')
    expect(config.outbox).toEqual({
      durability: 'fsync',
      syncIntervalMs: 100,
      commitDelayMs: 0,
      maxBytes: GiB,
      whenFull: 'drop-oldest',
      minFreeDiskBytes: 64 * MiB,
      reserveBytes: 8 * MiB,
      deadLetterMaxBytes: 64 * MiB,
      leveldb: { cacheSize: 2 * MiB, writeBufferSize: 2 * MiB, maxOpenFiles: 74, maxFileSize: 256 * 1024 },
    })
    expect(config.broker.listeners).toEqual([{ type: 'tcp', host: '127.0.0.1', port: 1883 }])
  })

  test('listeners, upstreams, routes, downlinks and devices get their per-item defaults', () => {
    const config = parse(`
broker:
  listeners:
    - { type: tcp }
    - { type: tls, certFile: /c.pem, keyFile: /k.pem }
    - { type: ws }
upstreams:
  - ${MQTT_UPSTREAM}
  - ${KAFKA_UPSTREAM}
routes:
  - { match: "sensors/#", to: [cloud] }
downlink:
  - { from: cloud, match: "cmd/#" }
devices:
  serial:
    - { name: meter, path: /dev/ttyUSB0, topic: meters/main }
`)
    expect(config.broker.listeners).toEqual([
      { type: 'tcp', host: '127.0.0.1', port: 1883 },
      {
        type: 'tls',
        host: '0.0.0.0',
        port: 8883,
        certFile: '/c.pem',
        keyFile: '/k.pem',
        requireClientCert: false,
      },
      { type: 'ws', host: '127.0.0.1', port: 8080, path: '/mqtt' },
    ])
    expect(config.upstreams[0]).toEqual({
      name: 'cloud',
      type: 'mqtt',
      url: 'mqtt://cloud.example:1883',
      rejectUnauthorized: true,
      protocolVersion: 5,
      qos: 1,
      maxInflight: 100,
      keepaliveSec: 30,
      connectTimeoutMs: 10000,
      ackTimeoutMs: 30000,
      poisonAfterDisconnects: 3,
      reconnect: { minMs: 500, maxMs: 30000 },
      downlinkSessionExpirySec: 604800,
    })
    expect(config.upstreams[1]).toEqual({
      name: 'lake',
      type: 'kafka',
      brokers: ['kafka1:9092'],
      compression: 'none',
      acks: 'all',
      maxInflight: 1000,
      batchBytes: 2 ** 20,
      lingerMs: 5,
      ackTimeoutMs: 30000,
      reconnect: { minMs: 500, maxMs: 30000 },
    })
    expect(config.routes).toEqual([
      { match: 'sensors/#', to: ['cloud'], topic: '{topic}', invalidTopic: 'refuse' },
    ])
    expect(config.downlink).toEqual([{ from: 'cloud', match: 'cmd/#', topic: '{topic}', qos: 1 }])
    expect(config.devices.serial).toEqual([
      {
        name: 'meter',
        path: '/dev/ttyUSB0',
        baudRate: 9600,
        dataBits: 8,
        parity: 'none',
        stopBits: 1,
        rtscts: false,
        framing: 'lines',
        delimiter: '\n',
        maxFrameBytes: 65536,
        topic: 'meters/main',
        qos: 1,
        reopen: { minMs: 500, maxMs: 30000 },
      },
    ])
  })
})

describe('sizes', () => {
  test.each([
    ['512MiB', 512 * MiB],
    ['1GiB', GiB],
    ['"64 kB"', 64_000],
    ['1.5GiB', 1.5 * GiB],
    ['4 GB', 4e9],
    ['2TiB', 2 * 2 ** 40],
    ['"100"', 100],
    ['10B', 10],
    ['1234', 1234],
    ['0', 0],
  ])('maxBytes: %s → %d bytes', (written, bytes) => {
    expect(parse(`outbox: { maxBytes: ${written} }`).outbox.maxBytes).toBe(bytes)
  })

  test('every size field takes size strings', () => {
    const config = parse(
      'broker: { maxPacketBytes: 64KiB }\noutbox: { maxBytes: 2GiB, minFreeDiskBytes: 100MB, reserveBytes: 1MiB }',
    )
    expect(config.broker.maxPacketBytes).toBe(64 * 1024)
    expect(config.outbox).toMatchObject({ maxBytes: 2 * GiB, minFreeDiskBytes: 100e6, reserveBytes: MiB })
  })

  test.each(['lots', '12 XB', '"-5MiB"', '"1e6"', '"1 024 MiB"', '""'])(
    'maxBytes: %s is rejected at outbox.maxBytes with what would be valid',
    (written) => {
      const problems = problemsOf(() => parse(`outbox: { maxBytes: ${written} }`))
      expect(pathsOf(problems)).toEqual(['outbox.maxBytes'])
      expect(messageAt(problems, 'outbox.maxBytes')).toContain('"512MiB"')
    },
  )

  test.each(['-1', '1.5', 'true', '[1]'])(
    'maxBytes: %s (not a size at all) is rejected at its path',
    (written) => {
      const problems = problemsOf(() => parse(`outbox: { maxBytes: ${written} }`))
      expect(pathsOf(problems)).toEqual(['outbox.maxBytes'])
    },
  )

  test('a bad size in a list item names the item', () => {
    const problems = problemsOf(() => parse('broker: { maxPacketBytes: huge }'))
    expect(pathsOf(problems)).toEqual(['broker.maxPacketBytes'])
    expect(problems[0]?.message).toContain('got "huge"')
  })
})

describe('environment variables', () => {
  test('${VAR} is replaced anywhere in a string, in objects and in lists', () => {
    const config = parse(
      `dataDir: "\${DATA}/outpost"
upstreams:
  - { name: lake, type: kafka, brokers: ["\${KAFKA_HOST}:9092", "\${KAFKA_HOST}-2:\${KAFKA_PORT}"] }
routes:
  - { match: "sensors/#", to: [lake], topic: telemetry }`,
      { DATA: '/srv', KAFKA_HOST: 'k1', KAFKA_PORT: '9093' },
    )
    expect(config.dataDir).toBe('/srv/outpost')
    expect(config.upstreams[0]).toMatchObject({ brokers: ['k1:9092', 'k1-2:9093'] })
  })

  test('${VAR:-default} uses the default when VAR is unset or empty, the value otherwise', () => {
    const text = 'dataDir: "${DATA:-/var/lib/outpost}"'
    expect(parse(text).dataDir).toBe('/var/lib/outpost')
    expect(parse(text, { DATA: '' }).dataDir).toBe('/var/lib/outpost')
    expect(parse(text, { DATA: '/srv' }).dataDir).toBe('/srv')
    expect(parse('dataDir: "/d${SUFFIX:-}"').dataDir).toBe('/d')
  })

  test('$$ is a literal $ (also in front of a brace), and a lone $ is left alone', () => {
    const config = parse(
      `upstreams:
  - { name: a, type: mqtt, url: "mqtt://h", password: "pa$$word" }
  - { name: b, type: mqtt, url: "mqtt://h", password: "$\${NOT_SUBSTITUTED}" }
  - { name: c, type: mqtt, url: "mqtt://h", password: "costs $5" }`,
    )
    expect(config.upstreams.map((u) => (u.type === 'mqtt' ? u.password : undefined))).toEqual([
      'pa$word',
      '${NOT_SUBSTITUTED}',
      'costs $5',
    ])
  })

  test('a substituted value is not substituted again', () => {
    const config = parse('dataDir: "${A}"', { A: '${B}', B: 'nope' })
    expect(config.dataDir).toBe('${B}')
  })

  test('an unset ${VAR} is an error at the path of its value', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:
  - { name: cloud, type: mqtt, url: "mqtt://h", password: "\${MISSING_SECRET}" }
  - { name: lake, type: kafka, brokers: ["\${MISSING_HOST}:9092"] }`),
    )
    expect(problems).toContainEqual({
      path: 'upstreams[0].password',
      message: 'environment variable MISSING_SECRET is not set',
    })
    expect(problems).toContainEqual({
      path: 'upstreams[1].brokers[0]',
      message: 'environment variable MISSING_HOST is not set',
    })
  })

  test("missingEnv: 'warn' reports unset variables through onWarning and loads the config", () => {
    const warnings: ConfigProblem[] = []
    const config = parseConfigText('dataDir: "${NOPE}/x"\nlog: { level: "${LEVEL:-debug}" }', 'w.yaml', {
      env: {},
      missingEnv: 'warn',
      onWarning: (p) => warnings.push(p),
    })
    expect(warnings).toEqual([{ path: 'dataDir', message: 'environment variable NOPE is not set' }])
    expect(config.dataDir).toBe('${NOPE}/x')
    expect(config.log.level).toBe('debug')
  })

  test("missingEnv: 'warn' still reports every other problem as an error", () => {
    const warnings: ConfigProblem[] = []
    const err = configErrorOf(() =>
      parseConfigText('dataDir: "${NOPE}"\noutbox: { durability: sometimes }', 'w.yaml', {
        env: {},
        missingEnv: 'warn',
        onWarning: (p) => warnings.push(p),
      }),
    )
    expect(pathsOf(err.problems)).toEqual(['outbox.durability'])
    expect(pathsOf(warnings)).toEqual(['dataDir'])
  })
})

describe('problems are reported all at once, with their paths', () => {
  const THREE_MISTAKES = `# three separate mistakes
gatewayId: gw-test
outbox:
  durability: sometimes
upstreams:
  - ${MQTT_UPSTREAM}
  - { name: lake, type: kafka }
routes:
  - { match: "sensors/+/telemetry", to: [cloud, nowhere] }
`

  test('a file with three mistakes reports all three, each at its path', () => {
    const file = writeConfig(THREE_MISTAKES)
    const err = configErrorOf(() => loadConfigFile(file, { env: {} }))
    expect(pathsOf(err.problems).sort()).toEqual([
      'outbox.durability',
      'routes[0].to[1]',
      'upstreams[1].brokers',
    ])
    expect(messageAt(err.problems, 'outbox.durability')).toMatch(/fsync.*batch.*none/)
    expect(messageAt(err.problems, 'upstreams[1].brokers')).toMatch(/required/)
    expect(messageAt(err.problems, 'routes[0].to[1]')).toBe(
      'unknown upstream "nowhere" (upstreams: "cloud", "lake")',
    )
    expect(err.file).toBe(file)
    expect(err.canRetry).toBe(false)
    expect(err.message.split('\n')[0]).toBe(`${file}: 3 problems`)
    for (const p of err.problems) expect(err.message).toContain(`\n  ${p.path}: ${p.message}`)
  })

  test('unknown keys are reported at their paths, at every depth', () => {
    const problems = problemsOf(() =>
      parse(`routs: []
outbox: { maxbytes: 1GiB }
broker: { listeners: [{ type: tcp, hots: 0.0.0.0 }] }
upstreams: [{ name: cloud, type: mqtt, url: "mqtt://h", passwd: x }]`),
    )
    expect(pathsOf(problems).sort()).toEqual([
      'broker.listeners[0].hots',
      'outbox.maxbytes',
      'routs',
      'upstreams[0].passwd',
    ])
    for (const p of problems) expect(p.message).toMatch(/unknown key/)
  })

  test('an unknown listener or upstream type is reported at its "type"', () => {
    const problems = problemsOf(() =>
      parse('broker: { listeners: [{ type: udp }] }\nupstreams: [{ name: x, type: amqp }]'),
    )
    expect(messageAt(problems, 'broker.listeners[0].type')).toMatch(/tcp.*tls.*ws/)
    expect(messageAt(problems, 'upstreams[0].type')).toMatch(/mqtt.*kafka/)
  })

  test('a YAML syntax error is reported with its line and column', () => {
    const problems = problemsOf(() => parse('log:\n  level: info\n  bad: [unclosed\n'))
    expect(problems).toHaveLength(1)
    expect(problems[0]?.path).toBe('')
    expect(problems[0]?.message).toMatch(/^line \d+, column \d+: \S/)

    const dup = problemsOf(() => parse('outbox:\n  durability: fsync\noutbox: {}\n'))
    expect(dup[0]?.message).toMatch(/^line 3, column 1: Map keys must be unique/)

    const tab = problemsOf(() => parse('outbox:\n\tmaxBytes: 1\n'))
    expect(tab[0]?.message).toMatch(/^line 2, column 1: /)
  })

  test('a missing file is OUTPOST_CONFIG_UNREADABLE with a clear message', () => {
    const missing = join(tempDir(), 'nope.yaml')
    const err = configErrorOf(() => loadConfigFile(missing), 'OUTPOST_CONFIG_UNREADABLE')
    expect(err.problems).toEqual([{ path: '', message: 'cannot read config: file not found' }])
    expect(err.message).toBe(`${missing}: 1 problem\n  cannot read config: file not found`)

    const dir = join(tempDir(), 'a-directory.yaml')
    mkdirSync(dir)
    const isDir = configErrorOf(() => loadConfigFile(dir), 'OUTPOST_CONFIG_UNREADABLE')
    expect(isDir.problems[0]?.message).toMatch(/^cannot read config: .*EISDIR/)
  })

  test('formatPath writes paths the way the problems show them', () => {
    expect(formatPath(['upstreams', 1, 'brokers'])).toBe('upstreams[1].brokers')
    expect(formatPath(['devices', 'serial', 0, 'name'])).toBe('devices.serial[0].name')
    expect(formatPath([])).toBe('')
  })
})

describe('checks that need the whole config', () => {
  test('allowAnonymous is accepted when every listener is on loopback', () => {
    expect(parse('broker: { allowAnonymous: true }').broker.allowAnonymous).toBe(true)
    const config = parse(`broker:
  allowAnonymous: true
  listeners:
    - { type: tcp, host: 127.0.0.1 }
    - { type: tcp, host: 127.0.0.2, port: 1884 }
    - { type: ws, host: "::1" }
    - { type: tcp, host: localhost, port: 1885 }`)
    expect(config.broker.listeners).toHaveLength(4)
  })

  test('allowAnonymous on a non-loopback listener is rejected at that listener, unless forceAnonymous', () => {
    const text = `broker:
  allowAnonymous: true
  listeners:
    - { type: tcp, host: 127.0.0.1 }
    - { type: tcp, host: 0.0.0.0, port: 1884 }
    - { type: tls, certFile: /c.pem, keyFile: /k.pem }`
    const problems = problemsOf(() => parse(text))
    expect(pathsOf(problems)).toEqual(['broker.listeners[1].host', 'broker.listeners[2].host'])
    expect(messageAt(problems, 'broker.listeners[1].host')).toMatch(/forceAnonymous/)
    // A TLS listener without a host listens on 0.0.0.0, so it is not loopback either.
    expect(messageAt(problems, 'broker.listeners[2].host')).toMatch(/"0\.0\.0\.0"/)

    const forced = parse(text.replace('allowAnonymous: true', 'allowAnonymous: true\n  forceAnonymous: true'))
    expect(forced.broker.forceAnonymous).toBe(true)
    expect(parse('broker: { listeners: [{ type: tcp, host: 0.0.0.0 }] }').broker.allowAnonymous).toBe(false)
  })

  test('duplicate upstream names are rejected at the second one', () => {
    const problems = problemsOf(() =>
      parse(
        `upstreams:\n  - ${MQTT_UPSTREAM}\n  - { name: cloud, type: kafka, brokers: ["k:9092"] }\n` +
          'routes:\n  - { match: "a/#", to: [cloud], topic: "a" }',
      ),
    )
    expect(problems).toEqual([{ path: 'upstreams[1].name', message: 'duplicate upstream name "cloud"' }])
  })

  test('duplicate serial device names are rejected', () => {
    const problems = problemsOf(() =>
      parse(`devices:
  serial:
    - { name: meter, path: /dev/a, topic: t/a }
    - { name: meter, path: /dev/b, topic: t/b }`),
    )
    expect(pathsOf(problems)).toEqual(['devices.serial[1].name'])
  })

  test('a downlink needs a known mqtt upstream: from a kafka upstream or an unknown one is rejected', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:\n  - ${MQTT_UPSTREAM}\n  - ${KAFKA_UPSTREAM}
routes:
  - { match: "meters/#", to: [lake], topic: meters }
downlink:
  - { from: lake, match: "commands/#" }
  - { from: ghost, match: "commands/#" }
  - { from: cloud, match: "commands/#" }`),
    )
    expect(problems).toEqual([
      { path: 'downlink[0].from', message: 'downlink needs an mqtt upstream; "lake" is kafka' },
      { path: 'downlink[1].from', message: 'unknown upstream "ghost" (upstreams: "cloud", "lake")' },
    ])
  })

  test('a route to an unknown upstream says which upstreams exist (or that there are none)', () => {
    const problems = problemsOf(() => parse('routes: [{ match: "#", to: [cloud] }]'))
    expect(problems).toEqual([
      { path: 'routes[0].to[0]', message: 'unknown upstream "cloud" (upstreams: none are configured)' },
    ])
  })

  test('template placeholders are checked against the captures of their filter', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:\n  - ${MQTT_UPSTREAM}
routes:
  - { match: "sensors/+/telemetry", to: [cloud], topic: "x/{1}" }
  - { match: "sensors/+/telemetry", to: [cloud], topic: "x/{2}" }
  - { match: "sensors/+/telemetry", to: [cloud], key: "{3}" }
  - { match: "sensors/#", to: [cloud], topic: "{device}" }
  - { match: "sensors/#", to: [cloud], topic: "a/+/b" }
  - { match: "sensors/#", to: [cloud], key: "a/+/{1}" }
downlink:
  - { from: cloud, match: "commands/{gatewayId}/#", topic: "cmd/{2}" }
  - { from: cloud, match: "commands/{gatewayId}/#", topic: "cmd/{3}" }`),
    )
    expect(problems).toEqual([
      { path: 'routes[1].topic', message: '{2} refers to capture 2 but the filter has 1 capture' },
      { path: 'routes[2].key', message: '{3} refers to capture 3 but the filter has 1 capture' },
      {
        path: 'routes[3].topic',
        message:
          'unknown placeholder {device}; use {topic}, {gatewayId}, {origin} or {1}, {2}, … for filter captures',
      },
      {
        path: 'routes[4].topic',
        message: 'a topic template must not contain wildcards "+" or "#" ("a/+/b")',
      },
      { path: 'downlink[1].topic', message: '{3} refers to capture 3 but the filter has 2 captures' },
    ])
  })

  test('invalid topic filters are rejected at their match', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:\n  - ${MQTT_UPSTREAM}
routes:
  - { match: "sensors/#/x", to: [cloud] }
  - { match: "sensors/a+", to: [cloud] }
  - { match: "sensors/{id}", to: [cloud] }
  - { match: "", to: [cloud] }`),
    )
    expect(pathsOf(problems)).toEqual([
      'routes[0].match',
      'routes[1].match',
      'routes[2].match',
      'routes[3].match',
    ])
  })

  test('reconnect.minMs above maxMs and a certFile without its keyFile are rejected', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:
  - { name: a, type: mqtt, url: "mqtt://h", reconnect: { minMs: 5000, maxMs: 1000 } }
  - { name: b, type: mqtt, url: "mqtt://h", certFile: /c.pem }`),
    )
    expect(problems).toEqual([
      { path: 'upstreams[0].reconnect', message: 'minMs must not exceed maxMs' },
      {
        path: 'upstreams[1].keyFile',
        message: 'certFile and keyFile go together (client certificate and its key)',
      },
    ])
  })

  test('a downlinkClientId equal to the clientId is rejected', () => {
    const problems = problemsOf(() =>
      parse(`upstreams:
  - { name: a, type: mqtt, url: "mqtt://h", clientId: pi-1, downlinkClientId: pi-1 }`),
    )
    expect(problems).toEqual([
      {
        path: 'upstreams[0].downlinkClientId',
        message: 'must differ from clientId (the two connections would keep disconnecting each other)',
      },
    ])
  })
})

describe('the loaded config', () => {
  test('is deeply frozen', () => {
    const config = loadConfigFile(EXAMPLE_YAML, { env: SECRETS })
    const nested: object[] = [
      config,
      config.broker,
      config.broker.listeners,
      config.broker.listeners[0] as object,
      config.broker.users[0]?.publish as object,
      config.outbox,
      config.upstreams,
      (config.upstreams[0] as { reconnect: object }).reconnect,
      config.routes[0]?.to as object,
      config.devices.serial,
    ]
    for (const o of nested) expect(Object.isFrozen(o)).toBe(true)
    expect(() => {
      ;(config.outbox as { maxBytes: number }).maxBytes = 1
    }).toThrow(TypeError)
    expect(() => {
      ;(config.upstreams as unknown[]).push({})
    }).toThrow(TypeError)
    expect(config.outbox.maxBytes).toBe(4 * GiB)
  })

  test('loading again after a frozen load gives an equal, independent config', () => {
    const first = parse('')
    const second = parse('')
    expect(second).toEqual(first)
    const third = parse('broker: { listeners: [{ type: tcp, port: 1999 }] }')
    expect(third.broker.listeners[0]?.port).toBe(1999)
    expect(first.broker.listeners[0]?.port).toBe(1883)
  })

  test('gatewayId comes from the file when set', () => {
    expect(parse('gatewayId: pi-kitchen').gatewayId).toBe('pi-kitchen')
    expect(pathsOf(problemsOf(() => parse('gatewayId: "a/b"')))).toEqual(['gatewayId'])
    expect(pathsOf(problemsOf(() => parse('gatewayId: "+"')))).toEqual(['gatewayId'])
  })

  test.each([
    ['pi-kitchen', 'pi-kitchen'],
    ['pi kitchen/01', 'pi-kitchen-01'],
    ['--box.local', 'box.local'],
    ['#$%', 'outpost'],
  ])('without one, gatewayId is options.defaultGatewayId made safe: %j → %j', (given, expected) => {
    expect(parseConfigText('', 'x.yaml', { env: {}, defaultGatewayId: given }).gatewayId).toBe(expected)
  })

  test('without a default either, gatewayId is the host name, made safe', () => {
    const id = parseConfigText('', 'x.yaml', { env: {} }).gatewayId
    expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)
    if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(hostname())) expect(id).toBe(hostname())
  })
})
