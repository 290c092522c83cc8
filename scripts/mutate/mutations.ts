// The mutation list: plausible bugs in the critical paths, each with the tests that must catch it
// (issue #12). `npm run mutate -- [NAME…]` applies one at a time to a temp copy of the repo and runs
// its tests (scripts/mutate/run.ts). This file is data only: when code moves, re-point `file` and
// `original` here (test/scripts/mutations.test.ts fails while an original text is not found exactly
// once).
//
// `original` must occur exactly once in `file`; it is replaced by `replacement` verbatim.

export interface Mutation {
  name: string
  /** The promise the bug breaks, as a reader of the results would put it. */
  bug: string
  /** Path from the repo root. */
  file: string
  original: string
  replacement: string
  /** Test files (from the repo root) of which at least one must fail with the bug in place. */
  tests: string[]
}

export const MUTATIONS: readonly Mutation[] = [
  {
    name: 'fsync-unsynced',
    bug: 'fsync mode writes batches with sync: false (still counted as synced)',
    file: 'store/log-writer.ts',
    original: 'await this.opts.writeBatch(batch, { sync: syncNow })',
    replacement: "await this.opts.writeBatch(batch, { sync: syncNow && this.opts.durability !== 'fsync' })",
    tests: ['test/store/outbox-durability.test.ts', 'test/store/outbox-power-loss.test.ts'],
  },
  {
    name: 'maxbytes-exact-fit',
    bug: 'maxBytes check > becomes >= (an exact fit is refused)',
    file: 'store/limits.ts',
    original: 'const overBytes = s.endOffset - s.firstOffset + a.bytes > maxBytes',
    replacement: 'const overBytes = s.endOffset - s.firstOffset + a.bytes >= maxBytes',
    tests: ['test/store/outbox-limits.test.ts'],
  },
  {
    name: 'forwarder-sends-all',
    bug: 'a forwarder also sends records routed only to other upstreams',
    file: 'gateway/forward/publish-session.ts',
    original: 'if (d.upstream === name) return d.topic ?? r.topic\n  return undefined',
    replacement: 'if (d.upstream === name) return d.topic ?? r.topic\n  return r.topic',
    tests: ['test/e2e/routes.test.ts'],
  },
  {
    name: 'forwarder-ignores-topic',
    bug: 'a forwarder ignores the per-upstream rendered topic',
    file: 'gateway/forward/publish-session.ts',
    original: 'if (d.upstream === name) return d.topic ?? r.topic',
    replacement: 'if (d.upstream === name) return r.topic',
    tests: ['test/e2e/routes.test.ts'],
  },
  {
    name: 'start-exit-1',
    bug: '`outpost start` exits 1 instead of 78 on an invalid config',
    file: 'gateway/cli/start.ts',
    original: 'return EXIT.CONFIG // before any socket or file is opened',
    replacement: 'return EXIT.FAILURE // before any socket or file is opened',
    tests: ['test/gateway/cli/start.test.ts'],
  },
  {
    name: 'retain-dropped',
    bug: 'the forwarder publishes upstream with retain: false always',
    file: 'gateway/forward/publish-session.ts',
    original: 'const options: IClientPublishOptions = { qos: host.config.qos, retain: r.retain }',
    replacement: 'const options: IClientPublishOptions = { qos: host.config.qos, retain: false }',
    tests: ['test/e2e/retain.test.ts'],
  },
  {
    name: 'slot-freed-early',
    bug: 'a window slot is freed at the ack, before its cursor commit is written',
    file: 'gateway/forward/publish-session.ts',
    original: [
      '    this.host.advance(moved).then(() => {',
      '      if (retired > this.persistedRetired) this.persistedRetired = retired',
    ].join('\n'),
    replacement: [
      '    if (retired > this.persistedRetired) this.persistedRetired = retired',
      '    void this.host.advance(moved).then(() => {',
    ].join('\n'),
    tests: ['test/gateway/forward/forwarder-window.test.ts'],
  },
  {
    name: 'downlink-acks-first',
    bug: 'the downlink acknowledges upstream before the local publish',
    file: 'gateway/forward/downlink.ts',
    original: [
      '    publishLocal({ topic: target, payload, qos: entry.qos, retain: packet.retain }).then(',
      '      () => {',
      '        this.counters.downlinkDelivered++',
      '        done()',
      '      },',
    ].join('\n'),
    replacement: [
      '    done()',
      '    publishLocal({ topic: target, payload, qos: entry.qos, retain: packet.retain }).then(',
      '      () => {',
      '        this.counters.downlinkDelivered++',
      '      },',
    ].join('\n'),
    tests: ['test/gateway/forward/downlink-ack.test.ts'],
  },
  // Not in the table: the weak spot graceful-stop could not see.
  {
    name: 'puback-before-commit',
    bug: 'the broker sends a QoS 1 PUBACK before the outbox commit',
    file: 'gateway/broker/publish-path.ts',
    original: [
      '    const outcome = this.ingest(msg, (err) => {',
      '      if (err === null) this.counters.stored++',
    ].join('\n'),
    replacement: [
      '    if (packet.qos > 0) done(null)',
      '    const outcome = this.ingest(msg, (err) => {',
      '      if (err === null) this.counters.stored++',
    ].join('\n'),
    tests: ['test/gateway/broker/puback-after-commit.test.ts'],
  },
  // The store's later promises (#7): retention never deletes a segment that still holds a live record,
  // and a damaged store never hands out a sequence number twice.
  {
    name: 'retention-deletes-live-segment',
    bug: 'retention deletes the segment holding the new first record',
    file: 'store/log-bottom.ts',
    original: 'if (seg.firstSeq + seg.count > newFirst) break',
    replacement: 'if (seg.firstSeq + seg.count > newFirst + 1) break',
    tests: ['test/store/outbox-segments.test.ts', 'test/store/outbox-contract.test.ts'],
  },
  {
    name: 'seq-reused-after-damage',
    bug: 'a cursor past the end of a damaged log is ignored: new readings reuse sequence numbers',
    file: 'store/load-log.ts',
    original: '    lastSeq = position\n',
    replacement: '\n',
    tests: ['test/store/outbox-damage.test.ts'],
  },
  // The forwarder's failure classes (#7): a record an upstream refuses is moved to the dead letters,
  // never skipped silently. (Settling the slot before the dead letter is written is no mutant here: both
  // land in the writer's next batch, atomically.)
  {
    name: 'refused-skipped-silently',
    bug: 'a record the upstream refuses is skipped without a dead letter',
    file: 'gateway/forward/publish-session.ts',
    original: [
      '    const written = this.host.deadLetter(r, reason, detail).then(',
      '      () => this.settle(slot),',
    ].join('\n'),
    replacement: ['    const written = Promise.resolve().then(', '      () => this.settle(slot),'].join('\n'),
    tests: ['test/gateway/forward/refusals.test.ts', 'test/e2e/poison-messages.test.ts'],
  },
  // The Kafka forwarder (#8): the cursor moves only once the cluster acknowledged the batch.
  {
    name: 'kafka-cursor-before-ack',
    bug: 'the Kafka forwarder commits its cursor past a batch before the cluster acknowledged it',
    file: 'gateway/forward/kafka-forwarder.ts',
    original: ['      if (items.length > 0) {', '        await this.send(items, stop)'].join('\n'),
    replacement: [
      '      await this.advance(last)',
      '      if (items.length > 0) {',
      '        await this.send(items, stop)',
    ].join('\n'),
    tests: ['test/gateway/forward/kafka-forwarder.contract.test.ts'],
  },
]
