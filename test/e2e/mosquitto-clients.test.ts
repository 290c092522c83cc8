// Devices nobody here wrote: Debian's mosquitto_pub publishes readings to the gateway (MQTT 3.1.1,
// QoS 1 and 2, a username and password from broker.users), and mosquitto_sub, subscribed on the
// gateway, receives a command sent from the cloud.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../gateway/broker/password.js'
import { deadline } from '../helpers/deadline.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { hasBinary, needs } from '../helpers/needs.js'
import { tempDir } from '../helpers/tmp.js'

const haveClients = () =>
  needs(
    'mosquitto_pub and mosquitto_sub (apt-get install mosquitto-clients)',
    hasBinary('mosquitto_pub') && hasBinary('mosquitto_sub'),
  )

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a mosquitto client to its exit (killed after timeoutMs), feeding it `input` on stdin. */
function run(bin: string, args: string[], input = '', timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    // A client that exits before reading all of its stdin (refused, say) makes the write fail with
    // EPIPE: its exit status and stderr tell the test what happened.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') stderr += `\n[test harness] stdin: ${err.message}`
    })
    child.stdin.end(input)
  })
}

describe.runIf(haveMosquitto() && haveClients())('mosquitto_pub and mosquitto_sub as devices', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  let commander: MqttClient | undefined
  afterAll(async () => {
    await commander?.endAsync(true)
    await gateway?.kill9()
    await cloud?.close()
  })

  it('publishes lines at QoS 1 and 2 that all arrive upstream in order; a wrong password is refused; commands reach mosquitto_sub', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    const config = gatewayConfig(join(dir, 'data'), cloud.url, {
      routes: [{ match: 'sensors/#', to: ['cloud'] }],
      downlink: [{ from: 'cloud', match: 'commands/{gatewayId}/#', topic: 'cmd/{2}', qos: 1 }],
    })
    config.broker = {
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
      allowAnonymous: false,
      users: [
        {
          username: 'sensor-1',
          passwordHash: await hashPassword('pw-1'),
          publish: ['sensors/%u/#'],
          subscribe: ['cmd/%u/#'],
        },
      ],
    }
    gateway = await GatewayProcess.start(dir, config)
    const gw = gateway
    const sink = cloud.sink
    const conn = ['-h', '127.0.0.1', '-p', String(gw.port), '-V', 'mqttv311', '-u', 'sensor-1']

    const lines = (prefix: string) => Array.from({ length: 500 }, (_, i) => `${prefix}-${i}`)
    for (const qos of [1, 2]) {
      const topic = `sensors/sensor-1/qos${qos}`
      const sent = lines(`q${qos}`)
      const pub = await run(
        'mosquitto_pub',
        [...conn, '-P', 'pw-1', '-i', `sensor-1-q${qos}`, '-q', String(qos), '-t', topic, '-l'],
        `${sent.join('\n')}\n`,
        time.left(20_000),
      )
      expect(pub, pub.stderr).toMatchObject({ code: 0 })
      await sink.waitFor(
        () => sink.firstCopies().filter((m) => m.topic === topic).length >= sent.length,
        time.left(15_000),
        () => `${sink.firstCopies().filter((m) => m.topic === topic).length}/${sent.length} on ${topic}`,
      )
      const got = sink
        .firstCopies()
        .filter((m) => m.topic === topic)
        .map((m) => m.payload.toString())
      expect(got).toEqual(sent)
    }

    const refused = await run(
      'mosquitto_pub',
      [...conn, '-P', 'wrong', '-q', '1', '-t', 'sensors/sensor-1/bad', '-m', 'nope'],
      '',
      time.left(10_000),
    )
    expect(refused.code).not.toBe(0)
    expect(refused.stderr.toLowerCase()).toContain('bad user name or password')

    // A command from the cloud reaches mosquitto_sub, subscribed on the gateway as sensor-1.
    const sub = run(
      'mosquitto_sub',
      [...conn, '-P', 'pw-1', '-i', 'sensor-1-sub', '-q', '1', '-t', 'cmd/sensor-1/#', '-C', '1', '-v'],
      '',
      time.left(20_000),
    )
    commander = await connectAsync(cloud.url, { clientId: 'cloud-app-3', protocolVersion: 5 })
    let subDone = false
    void sub.then(() => {
      subDone = true
    })
    // mosquitto_sub subscribes some time after it starts: send until it got one.
    const sendUntil = performance.now() + time.left(15_000)
    while (!subDone && performance.now() < sendUntil) {
      await commander.publishAsync('commands/gw-test/sensor-1/reboot', 'reboot', { qos: 1 })
      await new Promise((r) => setTimeout(r, 200))
    }
    const received = await sub
    expect(received, received.stderr).toMatchObject({ code: 0, stdout: 'cmd/sensor-1/reboot reboot\n' })
    expect(sink.messages.filter((m) => m.topic.includes('bad'))).toEqual([])
    expect(await gw.stop()).toBe(0)
  })
})
