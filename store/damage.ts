// What the outbox knows of damage to its store (LevelDB can lose or garble files on a power cut or a
// failing SD card): what opening found and did, how often the database was repaired, and records found
// unreadable. A damaged store degrades to "these records are lost, counted" — never to "refuse
// everything". Each finding is logged once, as an error.

export interface DamageStats {
  /** What was found and done, in words (the most recent 20). */
  findings: string[]
  /** LevelDB repairs run (at open, or after a read failed on a corrupt file). */
  repairs: number
}

const MAX_FINDINGS = 20
const MAX_SEEN = 10_000

export class Damage {
  private readonly findings: string[] = []
  repairs = 0
  /** First sequence numbers of unreadable ranges already counted (this process). */
  private readonly seen = new Set<number>()

  constructor(private readonly log: { error(obj: object, msg: string): void }) {}

  /** Something found or done about damage: logged once, listed in stats. */
  found(what: string, details: object = {}): void {
    this.log.error({ ...details, damage: what }, `outbox damage: ${what}`)
    this.findings.push(what)
    if (this.findings.length > MAX_FINDINGS) this.findings.shift()
  }

  /**
   * Records `first`..`last` cannot be read (garbled bytes, a truncated or unknown segment): returns how
   * many to count as lost — 0 when this range was counted already (reads pass it again and again).
   */
  unreadable(first: number, last: number, why: string): number {
    if (this.seen.has(first)) return 0
    if (this.seen.size >= MAX_SEEN) this.seen.clear()
    this.seen.add(first)
    this.found(`records ${first}..${last} are unreadable (${why}): skipped, counted as lost`, { first, last })
    return last - first + 1
  }

  /** Records `first`..`last` were missing when the log passed them. */
  missing(first: number, last: number, count: number): void {
    this.found(`${count} record(s) between ${first} and ${last} were missing: counted as lost`, {
      first,
      last,
    })
  }

  stats(): DamageStats {
    return { findings: [...this.findings], repairs: this.repairs }
  }
}
