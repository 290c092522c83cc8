// Errors of the outbox. Codes are a closed set; callers classify by code, never by message text.

export const OUTBOX_ERROR_CODES = [
  /** A limit (maxBytes, maxMessages, or free disk space) refuses the append under whenFull: reject. */
  'OUTPOST_OUTBOX_FULL',
  /** The disk itself ran out of space during a write (ENOSPC). */
  'OUTPOST_OUTBOX_NO_SPACE',
  /** Any other write error from the database. */
  'OUTPOST_OUTBOX_WRITE_FAILED',
  /** One record is larger than the whole outbox may hold. */
  'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
  /** The outbox is closed or closing. */
  'OUTPOST_OUTBOX_CLOSED',
  /** Another process (a running gateway) holds the database lock. */
  'OUTPOST_OUTBOX_LOCKED',
  /** The database could not be opened for another reason. */
  'OUTPOST_OUTBOX_OPEN_FAILED',
  /** A stored record or the outbox state could not be decoded. */
  'OUTPOST_OUTBOX_CORRUPT',
] as const
export type OutboxErrorCode = (typeof OUTBOX_ERROR_CODES)[number]

export type FullReason = 'bytes' | 'messages' | 'disk'

const RETRYABLE: ReadonlySet<OutboxErrorCode> = new Set([
  'OUTPOST_OUTBOX_FULL',
  'OUTPOST_OUTBOX_NO_SPACE',
  'OUTPOST_OUTBOX_WRITE_FAILED',
  'OUTPOST_OUTBOX_LOCKED',
])

export class OutboxError extends Error {
  override readonly name = 'OutboxError'
  readonly code: OutboxErrorCode
  /** True where the same append may succeed later (space freed, database recovered, lock released). */
  readonly canRetry: boolean
  /** For OUTPOST_OUTBOX_FULL: which limit refused it. */
  readonly reason: FullReason | undefined

  constructor(code: OutboxErrorCode, message: string, options?: { cause?: unknown; reason?: FullReason }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.canRetry = RETRYABLE.has(code)
    this.reason = options?.reason
  }
}

export function isOutboxError(err: unknown, code?: OutboxErrorCode): err is OutboxError {
  return err instanceof OutboxError && (code === undefined || err.code === code)
}

/** True when a database error was caused by a full disk. */
export function isNoSpace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left on device/.test(e.message))
      return true
  }
  return false
}

/** The error a failed write refuses its appends with (ENOSPC → NO_SPACE, else WRITE_FAILED). */
export function writeFailure(err: unknown): OutboxError {
  if (err instanceof OutboxError) return err
  const noSpace = isNoSpace(err)
  return new OutboxError(
    noSpace ? 'OUTPOST_OUTBOX_NO_SPACE' : 'OUTPOST_OUTBOX_WRITE_FAILED',
    noSpace
      ? 'the disk is full: the append was not stored'
      : `outbox write failed: ${(err as Error).message}`,
    { cause: err },
  )
}
