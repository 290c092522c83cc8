// Network listeners for the broker, one small function a transport: TCP, TLS, WebSocket. Each hands
// every new connection (a Duplex) to `onConnection`; aedes never owns a server.
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage } from 'node:http'
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { ListenerConfig } from '../../config/schema.js'
import { GatewayError } from '../errors.js'

export type OnConnection = (stream: Duplex, req: IncomingMessage | undefined, remote: string) => void

export interface Listener {
  type: ListenerConfig['type']
  host: string
  /** The bound port (the configured one, or the one the OS picked for port 0). */
  port: number
  close(): Promise<void>
}

export async function openListener(config: ListenerConfig, onConnection: OnConnection): Promise<Listener> {
  switch (config.type) {
    case 'tcp': {
      const server = createTcpServer({ noDelay: true }, (socket) =>
        onConnection(socket, undefined, remoteOf(socket)),
      )
      return listen(server, config)
    }
    case 'tls': {
      const server = createTlsServer(
        {
          cert: readPem(config.certFile, 'certFile'),
          key: readPem(config.keyFile, 'keyFile'),
          ca: config.caFile === undefined ? undefined : readPem(config.caFile, 'caFile'),
          requestCert: config.requireClientCert,
          rejectUnauthorized: config.requireClientCert,
        },
        (socket) => {
          socket.setNoDelay(true)
          onConnection(socket, undefined, remoteOf(socket))
        },
      )
      return listen(server, config)
    }
    case 'ws': {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade required\n')
      })
      const wss = new WebSocketServer({ server: http, path: config.path, perMessageDeflate: false })
      wss.on('connection', (ws, req) => {
        req.socket.setNoDelay(true)
        onConnection(createWebSocketStream(ws), req, remoteOf(req.socket))
      })
      const listener = await listen(http, config)
      return {
        ...listener,
        close: async () => {
          for (const client of wss.clients) client.terminate()
          await new Promise<void>((resolve) => wss.close(() => resolve()))
          await listener.close()
        },
      }
    }
  }
}

function listen(server: Server, config: ListenerConfig): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      reject(
        new GatewayError(
          'OUTPOST_LISTEN_FAILED',
          `cannot listen on ${config.type} ${config.host}:${config.port}: ${err.message}`,
          {
            cause: err,
          },
        ),
      )
    }
    server.once('error', onError)
    server.listen(config.port, config.host, () => {
      server.removeListener('error', onError)
      const address = server.address() as AddressInfo
      resolve({
        type: config.type,
        host: config.host,
        port: address.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new GatewayError(
      'OUTPOST_LISTEN_FAILED',
      `cannot read the listener's ${what} ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}

function remoteOf(socket: Socket): string {
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown'
}
