// Test-only helpers for the outbox suites: record factories, reading the whole log, polling with a
// deadline, and typed-error assertions. No fakes: every helper works on a real Outbox.
import { expect } from 'vitest'
import { OutboxError, type OutboxErrorCode } from '../../store/errors.js'
import type { Outbox, OutboxOptions } from '../../store/outbox.js'
import type { OutboxRecord, StoredRecord } from '../../store/record-codec.js'
import { recordLogSize } from '../../store/segment.js'

/** Options that keep the disk guard out of the way (tests that are not about it). */
export const NO_DISK_GUARD = { minFreeDiskBytes: 0, reserveBytes: 0 } satisfies Partial<OutboxOptions>

/** A small record whose payload names it (`msg-<i>`), so a read-back can be matched to its append. */
export function rec(i: number, overrides: Partial<OutboxRecord> = {}): OutboxRecord {
  return {
    topic: `sensors/s${i % 7}/telemetry`,
    payload: Buffer.from(`msg-${i}`),
    qos: 1,
    retain: false,
    ts: 1_700_000_000_000 + i,
    origin: `client-${i % 3}`,
    to: 'all',
    ...overrides,
  }
}

/** Bytes a record takes in the log (what maxBytes counts), computed with the store's own codec. */
export function logSize(record: OutboxRecord): number {
  return recordLogSize(record)
}

/** Every record after `after`, paging through read(); bounded by `limit` records. */
export async function readAll(outbox: Outbox, after = 0, limit = 1_000_000): Promise<StoredRecord[]> {
  const out: StoredRecord[] = []
  let pos = after
  while (out.length < limit) {
    const page = await outbox.read(pos, { maxRecords: 1000, maxBytes: 8 * 2 ** 20 })
    if (page.length === 0) break
    out.push(...page)
    pos = (page[page.length - 1] as StoredRecord).seq
  }
  return out
}

export function payloadsOf(records: readonly StoredRecord[]): string[] {
  return records.map((r) => Buffer.from(r.payload).toString('utf8'))
}

export function seqsOf(records: readonly StoredRecord[]): number[] {
  return records.map((r) => r.seq)
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}

/** Awaits `promise`, expects it to reject with an OutboxError of `code`, and returns that error. */
export async function expectOutboxError(
  promise: Promise<unknown>,
  code: OutboxErrorCode,
): Promise<OutboxError> {
  const err = await promise.then(
    (value) => new Error(`expected ${code}, but it resolved with ${String(value)}`),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OutboxError)
  expect((err as OutboxError).code).toBe(code)
  return err as OutboxError
}

/** Calls `check` until it returns true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 25 } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; i < Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    if (await check()) return true
    if (Date.now() >= deadline) break
    await sleep(intervalMs)
  }
  return check()
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves with the promise's value, or with `timedOut` when it has not settled within `ms`. */
export function within<T, U>(promise: Promise<T>, ms: number, timedOut: U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}
