// Each default has one home: the store's own (used by tests, benchmarks and the CLI without a config)
// are held equal to the config schema's, which is what a user's gateway runs with.
import { expect, test } from 'vitest'
import { parseConfigText } from '../../config/load.js'
import { OUTBOX_DEFAULTS, resolveOutboxOptions } from '../../store/outbox-options.js'

test("the store's defaults are the config schema's", () => {
  const config = parseConfigText('{}', 'empty.yaml', { env: {} })
  const { compactMinIntervalMs, ...configurable } = OUTBOX_DEFAULTS
  expect(compactMinIntervalMs).toBeGreaterThan(0) // not in the config: the compactor's own pace
  expect(configurable).toEqual({
    durability: config.outbox.durability,
    syncIntervalMs: config.outbox.syncIntervalMs,
    commitDelayMs: config.outbox.commitDelayMs,
    maxBytes: config.outbox.maxBytes,
    whenFull: config.outbox.whenFull,
    minFreeDiskBytes: config.outbox.minFreeDiskBytes,
    reserveBytes: config.outbox.reserveBytes,
    deadLetterMaxBytes: config.outbox.deadLetterMaxBytes,
    leveldb: config.outbox.leveldb,
  })
})

test('options given win over the defaults, field by field (leveldb too)', () => {
  const o = resolveOutboxOptions({ dir: '/x', maxBytes: 2 ** 24, leveldb: { cacheSize: 2 ** 20 } })
  expect(o.maxBytes).toBe(2 ** 24)
  expect(o.compactAfterBytes).toBe(2 ** 20) // a sixteenth of maxBytes, at least 1 MiB
  expect(o.leveldb).toEqual({ ...OUTBOX_DEFAULTS.leveldb, cacheSize: 2 ** 20 })
  expect(o.durability).toBe('fsync')
})
