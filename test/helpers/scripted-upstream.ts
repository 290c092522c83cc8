// A scripted MQTT upstream for forwarder tests, where mosquitto cannot produce the behaviour (MQTT 5
// PUBACK reason codes of our choosing, a broker that never acknowledges): a real TCP server on
// 127.0.0.1, port 0, speaking MQTT 3.1.1 and 5 with mqtt-packet (its parser learns the version from the
// CONNECT). It answers CONNECT and PINGREQ, and each PUBLISH as the test scripts it: a PUBACK (PUBREC for
// QoS 2) with a reason code, no answer, a DISCONNECT, or a dropped connection. Everything it receives is
// kept in order, with the connection it came on.
import { createServer, type Server, type Socket } from 'node:net'
import { generate, type IConnackPacket, type IPublishPacket, type Packet, parser } from 'mqtt-packet'

export interface ScriptedPublish {
  /** 1 for the first connection, 2 for the next… */
  conn: number
  topic: string
  payload: Buffer
  qos: number
  dup: boolean
  /** The gateway's outpost-seq user property (MQTT 5), if any. */
  seq: number | undefined
  /** The gateway's outpost-origin user property (MQTT 5), if any. */
  origin: string | undefined
}

/**
 * What the upstream does with a PUBLISH: acknowledge it with `ack` (a reason code: 0 success, ≥ 0x80
 * refused; MQTT 3.1.1 PUBACKs carry none), after `delayMs` if given; say nothing; send a DISCONNECT with
 * a reason code and close; or drop the connection.
 */
export type PublishAnswer = { ack: number; delayMs?: number } | 'ignore' | { disconnect: number } | 'drop'

export interface ScriptedUpstreamOptions {
  /** CONNACK properties (MQTT 5), e.g. receiveMaximum, maximumPacketSize. */
  connack?: IConnackPacket['properties']
}

export class ScriptedUpstream {
  readonly publishes: ScriptedPublish[] = []
  /** Connections that got a CONNACK. */
  connections = 0
  /** Decides the answer to each PUBLISH (default: acknowledge). */
  answer: (p: ScriptedPublish) => PublishAnswer = () => ({ ack: 0 })
  /** Drops each connection this long after its CONNACK (undefined: never). */
  dropAfterMs: number | undefined
  private readonly sockets = new Set<Socket>()
  private readonly waiters = new Set<() => void>()
  private server: Server

  private constructor(
    readonly port: number,
    server: Server,
    private readonly options: ScriptedUpstreamOptions,
  ) {
    this.server = server
  }

  static async start(options: ScriptedUpstreamOptions = {}, port = 0): Promise<ScriptedUpstream> {
    let upstream: ScriptedUpstream | undefined
    const server = createServer((socket) => upstream?.accept(socket))
    const bound = await listen(server, port)
    upstream = new ScriptedUpstream(bound, server, options)
    return upstream
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  /** The outpost-seq of each PUBLISH received, in order (resends included). */
  seqs(conn?: number): Array<number | undefined> {
    return this.publishes.filter((p) => conn === undefined || p.conn === conn).map((p) => p.seq)
  }

  /** Drops every open connection now. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  /** Stops listening (connections are then refused: ECONNREFUSED) and drops every connection. */
  async stopListening(): Promise<void> {
    this.dropAll()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** Listens again on the same port. */
  async listenAgain(): Promise<void> {
    const server = createServer((socket) => this.accept(socket))
    await listen(server, this.port)
    this.server = server
  }

  /** Resolves when `check` is true; rejects after timeoutMs, saying `what`. */
  waitFor(check: () => boolean, timeoutMs: number, what: () => string = () => ''): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(poll)
        reject(new Error(`scripted upstream: timed out after ${timeoutMs} ms ${what()}`))
      }, timeoutMs)
      const poll = () => {
        if (!check()) return
        clearTimeout(timer)
        this.waiters.delete(poll)
        resolve()
      }
      this.waiters.add(poll)
    })
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stopListening()
    else this.dropAll()
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    let version: 4 | 5 = 4
    let conn = 0
    let dropTimer: NodeJS.Timeout | undefined
    const p = parser()
    const send = (packet: Packet) => {
      if (!socket.destroyed) socket.write(generate(packet, { protocolVersion: version }))
    }
    p.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'connect':
          version = packet.protocolVersion === 5 ? 5 : 4
          conn = ++this.connections
          send({
            cmd: 'connack',
            sessionPresent: false,
            ...(version === 5 ? { reasonCode: 0, properties: this.options.connack } : { returnCode: 0 }),
          })
          if (this.dropAfterMs !== undefined) dropTimer = setTimeout(() => socket.destroy(), this.dropAfterMs)
          break
        case 'pingreq':
          send({ cmd: 'pingresp' })
          break
        case 'publish':
          this.onPublish(packet, conn, version, send, socket)
          break
        case 'pubrel':
          send({ cmd: 'pubcomp', messageId: packet.messageId })
          break
        default:
          break
      }
      this.notify()
    })
    p.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => p.parse(chunk))
    socket.on('error', () => socket.destroy()) // the close that follows is what tests observe
    socket.on('close', () => {
      clearTimeout(dropTimer)
      this.sockets.delete(socket)
      this.notify()
    })
  }

  private onPublish(
    packet: IPublishPacket,
    conn: number,
    version: 4 | 5,
    send: (packet: Packet) => void,
    socket: Socket,
  ): void {
    const props = packet.properties?.userProperties as Record<string, string> | undefined
    const seq = props?.['outpost-seq']
    const got: ScriptedPublish = {
      conn,
      topic: packet.topic,
      payload: Buffer.from(packet.payload),
      qos: packet.qos,
      dup: packet.dup,
      seq: seq === undefined ? undefined : Number(seq),
      origin: props?.['outpost-origin'],
    }
    this.publishes.push(got)
    if (packet.qos === 0) return
    const answer = this.answer(got)
    if (answer === 'ignore') return
    if (answer === 'drop') {
      socket.destroy()
      return
    }
    if ('disconnect' in answer) {
      if (version === 5) send({ cmd: 'disconnect', reasonCode: answer.disconnect })
      socket.end()
      return
    }
    const ack = {
      cmd: packet.qos === 2 ? 'pubrec' : 'puback',
      messageId: packet.messageId,
      ...(version === 5 ? { reasonCode: answer.ack } : {}),
    } as Packet
    if (answer.delayMs === undefined) send(ack)
    else setTimeout(() => send(ack), answer.delayMs)
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : 0)
    })
  })
}
