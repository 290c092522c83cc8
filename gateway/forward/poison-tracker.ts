// Poison detection (issue #7): tells a message the upstream drops the connection on (MQTT 3.1.1 has no
// other way to refuse; brokers also close on what they call malformed) from a network that drops
// connections. It only ever learns from two events:
//
//   lost(oldest)  the upstream (or the path to it) ended a connection while messages were in flight,
//                 `oldest` the oldest of them. A connection that never came up (refused, timed out)
//                 or ended with nothing in flight is no evidence: lost(undefined) changes nothing.
//   answered()    the upstream acknowledged or refused a message: the connection works, start over.
//
// After `after` losses in a row with the same oldest message and no answer in between, that message is
// the suspect and is isolated: the forwarder sends it alone (window 1), once the new connection has
// stayed up with nothing in flight for a while. Lost again then, with it alone in flight, it is the
// poison: dead letter ("upstream-disconnect"). Answered, it was innocent: back to normal.
//
// Why a flap cannot dead-letter a message the upstream would take: that needs `after` + 1 connections in
// a row that each ended before the upstream answered anything, the last of which stayed up idle and died
// while that one message, alone, waited for its PUBACK — a link that can carry nothing at all.

export type PoisonVerdict = 'none' | 'isolate' | 'dead-letter'

export interface PoisonState {
  /** The oldest message in flight at the last losses, and how many losses in a row it was. */
  suspect: number | undefined
  losses: number
  /** Being sent alone. */
  isolating: number | undefined
}

export class PoisonTracker {
  private suspect: number | undefined
  private losses = 0
  private isolated: number | undefined

  /** @param after losses in a row before the suspect is isolated (0: never) */
  constructor(private readonly after: number) {}

  /** The message being sent alone, if any. */
  get isolating(): number | undefined {
    return this.isolated
  }

  get state(): PoisonState {
    return { suspect: this.suspect, losses: this.losses, isolating: this.isolated }
  }

  /** The upstream answered a message. Called for every answer: costs a comparison. */
  answered(): void {
    if (this.losses !== 0) this.reset()
  }

  /** Everything up to `seq` is done (acknowledged, skipped or dead-lettered). */
  passed(seq: number): void {
    if (this.suspect !== undefined && seq >= this.suspect) this.reset()
  }

  /** A connection ended, by the upstream's doing, with `oldest` the oldest message in flight (if any). */
  lost(oldest: number | undefined): PoisonVerdict {
    if (this.after === 0 || oldest === undefined) return 'none'
    if (this.isolated !== undefined) {
      if (oldest === this.isolated) {
        this.reset()
        return 'dead-letter'
      }
      this.reset() // something else was in flight: the suspect is behind us
    }
    if (oldest === this.suspect) this.losses++
    else {
      this.suspect = oldest
      this.losses = 1
    }
    if (this.losses < this.after) return 'none'
    this.isolated = oldest
    return 'isolate'
  }

  private reset(): void {
    this.suspect = undefined
    this.losses = 0
    this.isolated = undefined
  }
}
