// What the broker knows about one client connection, kept on the aedes Client under a symbol: the
// publish hook reads it for every message, and a property read is cheaper than a WeakMap lookup.
import type { Client } from 'aedes'
import type { Principal } from './acl.js'
import type { ClientThrottle } from './client-throttle.js'

export interface ConnectionState {
  remote: string
  /** Set once authenticated. */
  principal: Principal | undefined
  throttle: ClientThrottle | undefined
  /** The wire guard cut it (oversized, malformed, bad will topic): nothing parsed from it is stored. */
  cut: boolean
  /**
   * Why the wire guard refused a PUBLISH topic of this connection ('' while it has not). It sees the
   * bytes before aedes parses them, so every publish authorized after that is refused: the connection
   * is closed at the first. (Not "the n-th PUBLISH": aedes handles a PUBLISH read while the CONNECT is
   * being processed before those it queued from the CONNECT's own read — found by fuzzing.)
   */
  badTopic: string
  /** Why its client id is refused ('' when it is not). */
  badClientId: string
  connectTimer: NodeJS.Timeout | undefined
  /** Why it was closed was counted already: its errors after that are consequences, not causes. */
  closeCounted: boolean
}

const STATE = Symbol('outpost.connection')

export function newConnectionState(remote: string): ConnectionState {
  return {
    remote,
    principal: undefined,
    throttle: undefined,
    cut: false,
    badTopic: '',
    badClientId: '',
    connectTimer: undefined,
    closeCounted: false,
  }
}

export function attachState(client: Client, state: ConnectionState): void {
  ;(client as unknown as { [STATE]: ConnectionState })[STATE] = state
}

/** The state of a client the broker accepted (undefined for a will published with no client). */
export function stateOf(client: Client | null): ConnectionState | undefined {
  return client === null ? undefined : (client as unknown as { [STATE]?: ConnectionState })[STATE]
}
