// The broker's session store on its own (issue #10, item 3), on a real LevelDB in a temp dir: each open is
// a run whose broker id sorts after the last one's (messages queued in different runs keep their order),
// the wills of earlier runs are gone, answers come in the order they were asked, a store held by
// someone else is refused with a code that says so.
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, test } from 'vitest'
import { openSessionStore, type SessionStore } from '../../../gateway/broker/session-store.js'
import { GatewayError } from '../../../gateway/errors.js'
import { createLogger } from '../../../gateway/logger.js'
import { tempDir } from '../../helpers/tmp.js'
import { LogSink } from './harness.js'

/** The part of aedes's persistence API these tests use (aedes-persistence-level ships no types). */
interface WillApi {
  putWill(client: { id: string }, packet: Record<string, unknown>): Promise<void>
  streamWill(): AsyncIterable<{ clientId: string; topic: string }>
}

/** aedes's incoming QoS 2 store, and its subscriptions. */
interface IncomingApi {
  incomingStorePacket(client: { id: string }, packet: object): Promise<void>
  incomingGetPacket(client: { id: string }, packet: object): Promise<unknown>
  addSubscriptions(client: { id: string }, subs: object[]): Promise<void>
  subscriptionsByClient(client: { id: string }): Promise<unknown[]>
}

const open: SessionStore[] = []
afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
})

async function openStore(dir: string, logs = new LogSink()): Promise<SessionStore> {
  const store = await openSessionStore(dir, createLogger({ level: 'info', destination: logs }))
  open.push(store)
  return store
}

async function closeStore(store: SessionStore): Promise<void> {
  open.splice(open.indexOf(store), 1)
  await store.close()
}

describe('session store', () => {
  test('each open is a new run: its broker id sorts after every earlier run’s', async () => {
    const dir = join(tempDir(), 'broker')
    const ids: string[] = []
    for (let run = 0; run < 12; run++) {
      const store = await openStore(dir)
      ids.push(store.brokerId)
      await closeStore(store)
    }
    expect(new Set(ids).size).toBe(12)
    expect([...ids].sort()).toEqual(ids) // as strings: the order of aedes's queue keys
  })

  test('a will stored by an earlier run is gone when the store opens again', async () => {
    const dir = join(tempDir(), 'broker')
    const first = await openStore(dir)
    const wills = first.persistence as WillApi
    await wills.putWill({ id: 'lamp-1' }, { topic: 'status/lamp-1', payload: Buffer.from('gone'), qos: 1 })
    const kept: string[] = []
    for await (const w of wills.streamWill()) kept.push(w.topic)
    expect(kept, 'stored while its run lasts').toEqual(['status/lamp-1'])
    await closeStore(first)

    const logs = new LogSink()
    const second = await openStore(dir, logs)
    const left: string[] = []
    for await (const w of (second.persistence as WillApi).streamWill()) left.push(w.topic)
    expect(left).toEqual([])
    expect(logs.lines.find((l) => l.msg === 'session store open')).toMatchObject({ willsDropped: 1 })
  })

  // aedes asks for all packets of one socket read at once and relies on answers in that order.
  test('answers in the order it was asked, refusals included', async () => {
    const store = await openStore(join(tempDir(), 'broker'))
    const incoming = store.persistence as IncomingApi
    const client = { id: 'meter-1' }
    const packet = (messageId: number) => ({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 2,
      messageId,
    })
    await incoming.incomingStorePacket(client, packet(1))
    // A slow first answer (reading 3,000 subscriptions): refusals that come back meanwhile wait their turn.
    const subs = Array.from({ length: 3000 }, (_, i) => ({ topic: `cmd/${i}`, qos: 1 }))
    await incoming.addSubscriptions(client, subs)
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    const answered: string[] = []
    const slow = incoming.subscriptionsByClient(client).then(() => answered.push('slow'))
    const asks = Array.from({ length: 60 }, (_, i) => {
      const id = i % 3 === 0 ? 999 : 1 // 999: not held, refused ("no such packet")
      return incoming.incomingGetPacket(client, packet(id)).then(
        () => answered.push(`${i} held`),
        () => answered.push(`${i} refused`),
      )
    })
    await Promise.all([slow, ...asks])
    await new Promise((r) => setImmediate(r))
    process.off('unhandledRejection', onUnhandled)
    expect(answered).toEqual([
      'slow',
      ...Array.from({ length: 60 }, (_, i) => `${i} ${i % 3 === 0 ? 'refused' : 'held'}`),
    ])
    expect(unhandled, 'a refusal that came back before its turn was not handled').toEqual([])
  })

  test('a store held open by someone else: OUTPOST_SESSION_STORE_LOCKED, retryable', async () => {
    const dir = join(tempDir(), 'broker')
    const holder = new ClassicLevel(dir)
    await holder.open()
    try {
      const err = await openStore(dir).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(GatewayError)
      expect(err).toMatchObject({ code: 'OUTPOST_SESSION_STORE_LOCKED', canRetry: true })
    } finally {
      await holder.close()
    }
    // Released: it opens.
    expect((await openStore(dir)).brokerId).toMatch(/^outpost-\d{12}$/)
  })
})
