// QoS 2 is stored once [MQTT-4.3.3-2]: until PUBREL, a PUBLISH with the same packet id is the same
// message. aedes records it (incomingStorePacket) only after the publish hook, and handles all packets
// of one socket read at once, so a copy arriving while the first is being committed must wait for that
// commit; after it, aedes's incoming store says whether it holds the id.
//
// The commits in progress are keyed by session, not by connection: a device with a persistent session
// (clean = false) that gives up on a connection and resends on a new one while the first copy is still
// being committed sends the same message (issue #7; before, the map lived on the old connection and the
// copy was stored twice). A clean session starts over [MQTT-3.1.2-6]: its ids are its own connection's.
import type { Client, PublishPacket } from 'aedes'

export interface IncomingStore {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>
}

type Store = (done: (err?: Error | null) => void) => void

export class Qos2Once {
  private readonly inProgress = new Map<unknown, Map<number, Promise<void>>>()

  constructor(private readonly persistence: () => IncomingStore) {}

  /**
   * Calls `store` unless this message is being committed already or aedes holds it; `done` once it is
   * stored (or was). `session` keys clean sessions (their connection); persistent ones go by client id.
   */
  run(
    client: Client,
    session: object,
    packet: PublishPacket,
    store: Store,
    done: (err?: Error | null) => void,
  ): void {
    const key = client.clean ? session : client.id
    const id = packet.messageId as number
    let pending = this.inProgress.get(key)
    if (!pending) {
      pending = new Map()
      this.inProgress.set(key, pending)
    }
    const earlier = pending.get(id)
    if (earlier) {
      earlier.then(() => done(null), done)
      return
    }
    // aedes's persistence is untyped; incomingGetPacket resolves when it holds this packet id.
    const commit = this.persistence()
      .incomingGetPacket(client, packet)
      .then(
        () => undefined, // a retransmission of a message aedes holds (awaiting PUBREL): stored already
        () => new Promise<void>((resolve, reject) => store((err) => (err ? reject(err) : resolve()))),
      )
    const map = pending
    map.set(id, commit)
    commit.then(
      () => done(null),
      (err: Error) => done(err),
    )
    // Forget it once aedes has recorded the packet: that happens in the microtasks right after done(),
    // so by the next macrotask aedes's incoming store is the authority (until PUBREL frees the id).
    commit
      .finally(() =>
        setImmediate(() => {
          map.delete(id)
          if (map.size === 0 && this.inProgress.get(key) === map) this.inProgress.delete(key)
        }),
      )
      .catch(() => undefined)
  }
}
