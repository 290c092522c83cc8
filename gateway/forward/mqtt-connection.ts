// One MQTT upstream connection at a time, for the forwarder (uplink) and the downlink: the client
// options every connection to an upstream shares, the wait for CONNACK, and the reconnect loop with
// backoff and full jitter. mqtt.js's own reconnect is off: each connection is a fresh client.
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt'
import type { MqttUpstreamConfig } from '../../config/schema.js'
import { GatewayError } from '../errors.js'
import type { Logger } from '../logger.js'
import { backoffDelay, sleep } from './backoff.js'
import { readUpstreamFile } from './upstream-file.js'

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped'

/** The TLS material of an upstream, read once (a missing file fails the gateway's start). */
export function readTls(config: MqttUpstreamConfig): Pick<IClientOptions, 'ca' | 'cert' | 'key'> {
  return {
    ca: readUpstreamFile(config.caFile, 'caFile', config.name),
    cert: readUpstreamFile(config.certFile, 'certFile', config.name),
    key: readUpstreamFile(config.keyFile, 'keyFile', config.name),
  }
}

/** The uplink's client id: configured, or derived from the gateway id and the upstream's name. */
export function uplinkClientId(config: MqttUpstreamConfig, gatewayId: string): string {
  return config.clientId ?? `outpost-${gatewayId}-${config.name}`
}

/** Options shared by every connection to `config`'s broker. */
export function clientOptions(
  config: MqttUpstreamConfig,
  tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>,
  session: Pick<IClientOptions, 'clientId' | 'clean' | 'properties'>,
): IClientOptions {
  return {
    username: config.username,
    password: config.password,
    protocolVersion: config.protocolVersion,
    keepalive: config.keepaliveSec,
    connectTimeout: config.connectTimeoutMs,
    reconnectPeriod: 0, // reconnects are ours (runConnections)
    resubscribe: false,
    queueQoSZero: false,
    rejectUnauthorized: config.rejectUnauthorized,
    servername: config.servername,
    ...tls,
    ...session,
  }
}

/**
 * Connects; resolves with the client once CONNACK arrives, rejects (and ends the client) otherwise.
 * `prepare` runs on the new client before any packet: a broker resuming a session sends its queued
 * messages right behind the CONNACK, and mqtt.js handles them before the 'connect' listeners return.
 */
export function connectMqtt(
  connectFn: ConnectFn,
  url: string,
  options: IClientOptions,
  stop: AbortSignal,
  prepare?: (client: MqttClient) => void,
): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  const client = connectFn(url, options)
  prepare?.(client)
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      client.removeListener('connect', onConnect)
      client.removeListener('error', onError)
      client.removeListener('close', onClose)
      stop.removeEventListener('abort', onAbort)
    }
    const onConnect = (connack: IConnackPacket) => {
      cleanup()
      resolve({ client, connack })
    }
    const fail = (err: Error) => {
      cleanup()
      void client.endAsync(true).catch(() => undefined)
      reject(
        new GatewayError('OUTPOST_UPSTREAM_UNAVAILABLE', `${redactUrl(url)}: ${err.message}`, {
          cause: err,
          canRetry: true,
        }),
      )
    }
    const onError = (err: Error) => fail(err)
    const onClose = () => fail(new Error('connection closed before CONNACK'))
    const onAbort = () => fail(new Error('stopped'))
    client.on('connect', onConnect)
    client.on('error', onError)
    client.on('close', onClose)
    stop.addEventListener('abort', onAbort, { once: true })
  })
}

export interface ConnectionLoop {
  config: MqttUpstreamConfig
  log: Logger
  random?: (() => number) | undefined
  /** Connects once (connectMqtt). */
  connect(stop: AbortSignal): Promise<MqttClient>
  /** Runs a connected session; returns or throws when the connection ends. */
  session(client: MqttClient, stop: AbortSignal): Promise<void>
  onState(state: ConnectionState): void
  /** A connection attempt or a session ended with this error (the loop retries after a backoff). */
  onError(err: Error): void
  /** A session that had started is over (its client is being closed). */
  onDisconnect?(): void
}

/**
 * Connect, run a session, back off, again, until `stop` aborts. The backoff starts over only after a
 * session that lasted (at least reconnect.maxMs, and 1 s): a broker that accepts the connection and
 * then drops it at once is retried with growing delays, not in a tight loop.
 */
export async function runConnections(loop: ConnectionLoop, stop: AbortSignal): Promise<void> {
  const stableMs = Math.max(1000, loop.config.reconnect.maxMs)
  let attempt = 0
  while (!stop.aborted) {
    loop.onState('connecting')
    let client: MqttClient | undefined
    let connectedAt: number | undefined
    try {
      client = await loop.connect(stop)
      connectedAt = performance.now()
      loop.onState('connected')
      await loop.session(client, stop)
    } catch (err) {
      if (stop.aborted) break
      loop.onError(err as Error)
      loop.log.warn({ err: (err as Error).message, attempt }, 'upstream connection failed')
    } finally {
      if (client) {
        loop.onDisconnect?.()
        client.removeAllListeners('message')
        await client.endAsync(true).catch(() => undefined)
      }
    }
    if (stop.aborted) break
    if (connectedAt !== undefined && performance.now() - connectedAt >= stableMs) attempt = 0
    loop.onState('backoff')
    const delay = backoffDelay(attempt++, { ...loop.config.reconnect, random: loop.random })
    await sleep(delay, stop).catch(() => undefined)
  }
  loop.onState('stopped')
}

/** The URL without credentials, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString()
  } catch {
    return url
  }
}
