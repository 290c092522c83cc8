// Prometheus text exposition (format 0.0.4) of a gateway status snapshot. Counters end in _total.
import type { GatewayStatus } from '../gateway.js'
import { deviceMetrics } from './device-metrics.js'

export type Labels = Record<string, string>

export class Exposition {
  private readonly lines: string[] = []

  metric(name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Labels, number]>): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',')
      this.lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`)
    }
  }

  text(): string {
    return `${this.lines.join('\n')}\n`
  }
}

export function renderMetrics(s: GatewayStatus): string {
  const e = new Exposition()
  const b = s.broker
  const o = s.outbox
  const one = (v: number): Array<[Labels, number]> => [[{}, v]]
  e.metric('outpost_up', 'gauge', 'The gateway is running.', one(1))
  e.metric('outpost_uptime_seconds', 'gauge', 'Seconds since the gateway started.', one(s.uptimeMs / 1000))
  e.metric('outpost_broker_connections', 'gauge', 'Client connections open now.', one(b.connections))
  e.metric(
    'outpost_broker_connections_total',
    'counter',
    'Client connections accepted.',
    one(b.connectionsTotal),
  )
  e.metric('outpost_connections_closed_total', 'counter', 'Connections the gateway closed, by reason.', [
    [{ reason: 'connect_timeout' }, b.connectTimeouts],
    [{ reason: 'keepalive_timeout' }, b.keepaliveTimeouts],
    [{ reason: 'throttled' }, b.throttledDisconnects],
    [{ reason: 'bad_client_id' }, b.refusedClientIds],
  ])
  e.metric(
    'outpost_broker_auth_failures_total',
    'counter',
    'Connections refused by authentication.',
    one(b.authFailures),
  )
  e.metric(
    'outpost_broker_publishes_received_total',
    'counter',
    'PUBLISH packets accepted for routing.',
    one(b.publishesReceived),
  )
  e.metric('outpost_messages_stored_total', 'counter', 'Messages committed to the outbox.', one(b.stored))
  e.metric(
    'outpost_messages_local_only_total',
    'counter',
    'Messages that matched no route (local delivery only).',
    one(b.localOnly),
  )
  e.metric('outpost_messages_dropped_total', 'counter', 'Messages not stored, by reason.', [
    [{ reason: 'qos0_not_stored' }, b.qos0Dropped],
    [{ reason: 'evicted' }, o.counters.evicted],
    [{ reason: 'expired' }, o.counters.expired],
    [{ reason: 'upstream_removed' }, o.counters.upstreamRemoved],
  ])
  e.metric(
    'outpost_messages_refused_total',
    'counter',
    'QoS 1/2 messages refused without PUBACK, or publishes refused.',
    [
      [{ reason: 'not_stored' }, b.notStored],
      [{ reason: 'reserved_topic' }, b.refusedReservedTopic],
      [{ reason: 'not_authorized' }, b.refusedNotAuthorized],
      [{ reason: 'bad_topic' }, b.refusedBadTopic],
      [{ reason: 'upstream_topic_invalid' }, b.refusedUpstreamTopic],
      [{ reason: 'throttled' }, b.refusedThrottled],
    ],
  )
  e.metric(
    'outpost_messages_invalid_topic_stored_total',
    'counter',
    'Messages stored with a topic their upstream cannot take (routes with invalidTopic: dead-letter).',
    one(s.ingest.invalidTopicStored),
  )
  e.metric('outpost_clients_throttled_total', 'counter', 'Times a client was held back, by cause.', [
    [{ cause: 'limits' }, b.throttled],
    [{ cause: 'pending' }, b.throttledPending],
  ])
  e.metric('outpost_clients_throttled', 'gauge', 'Clients held back now.', one(b.throttledNow))
  e.metric(
    'outpost_ingest_pending_bytes',
    'gauge',
    'Messages handed to the outbox and not yet committed (estimated bytes in memory).',
    one(s.ingest.pendingBytes),
  )
  e.metric(
    'outpost_ingest_max_pending_bytes',
    'gauge',
    'broker.maxPendingBytes.',
    one(s.ingest.maxPendingBytes),
  )
  e.metric(
    'outpost_subscriptions_refused_total',
    'counter',
    'Subscriptions refused by ACL.',
    one(b.refusedSubscriptions),
  )
  e.metric('outpost_packets_rejected_total', 'counter', 'Packets that disconnected their client.', [
    [{ reason: 'oversized' }, b.oversizedPackets],
    [{ reason: 'malformed' }, b.malformedPackets],
  ])
  e.metric('outpost_client_errors_total', 'counter', 'Other client connection errors.', one(b.clientErrors))

  e.metric('outpost_outbox_messages', 'gauge', 'Records in the outbox.', one(o.messages))
  e.metric(
    'outpost_outbox_bytes',
    'gauge',
    'Bytes of records in the outbox (what maxBytes limits).',
    one(o.bytes),
  )
  e.metric('outpost_outbox_max_bytes', 'gauge', 'outbox.maxBytes.', one(o.maxBytes))
  e.metric('outpost_outbox_disk_bytes', 'gauge', 'Bytes of the outbox database on disk.', one(o.diskBytes))
  e.metric('outpost_outbox_disk_free_bytes', 'gauge', 'Free bytes on the data disk.', one(o.diskFreeBytes))
  e.metric(
    'outpost_outbox_appended_total',
    'counter',
    'Records appended since the outbox was created.',
    one(o.appended),
  )
  e.metric('outpost_outbox_rejected_total', 'counter', 'Records the outbox refused, by reason.', [
    [{ reason: 'max_bytes' }, o.counters.rejectedBytes],
    [{ reason: 'max_messages' }, o.counters.rejectedMessages],
    [{ reason: 'disk' }, o.counters.rejectedDisk],
    [{ reason: 'write_failed' }, o.counters.writeFailed],
  ])
  e.metric('outpost_outbox_writes_total', 'counter', 'Batches written to the outbox database.', [
    [{ synced: 'true' }, o.writes.synced],
    [{ synced: 'false' }, o.writes.batches - o.writes.synced],
  ])
  e.metric('outpost_outbox_fsyncs_total', 'counter', 'fsyncs of the outbox database.', one(o.writes.synced))
  e.metric(
    'outpost_outbox_written_bytes_total',
    'counter',
    "Bytes of the outbox's batch writes (records, cursors, state), before LevelDB's own rewrites.",
    one(o.writes.bytes),
  )
  if (s.process.writtenBytes !== null) {
    e.metric(
      'outpost_process_written_bytes_total',
      'counter',
      'Bytes the gateway process caused to be written to storage (/proc/self/io), LevelDB compactions included.',
      one(s.process.writtenBytes),
    )
  }
  e.metric(
    'outpost_process_resident_memory_bytes',
    'gauge',
    'Resident memory (RSS).',
    one(s.process.rssBytes),
  )
  e.metric('outpost_process_heap_used_bytes', 'gauge', 'V8 heap in use.', one(s.process.heapUsedBytes))
  e.metric(
    'outpost_outbox_healthy',
    'gauge',
    '1 when the outbox accepts writes, 0 while it recovers.',
    one(o.state === 'ok' ? 1 : 0),
  )
  e.metric(
    'outpost_outbox_lost_total',
    'counter',
    'Records lost from a damaged store (missing or unreadable), by reason.',
    [[{ reason: 'corrupt' }, o.counters.lostCorrupt]],
  )
  e.metric(
    'outpost_outbox_repairs_total',
    'counter',
    'LevelDB repairs of the outbox database since start (at open, or after a read hit a damaged file).',
    one(o.damage.repairs),
  )

  const cursors = new Map(o.cursors.map((c) => [c.name, c]))
  const ups = s.upstreams
  const per = (f: (u: (typeof ups)[number]) => number): Array<[Labels, number]> =>
    ups.map((u) => [{ upstream: u.name, type: u.type }, f(u)])
  const fwd = (u: (typeof ups)[number]) => ('connection' in u ? u : undefined)
  const downlink = (u: (typeof ups)[number]) => ('downlinkState' in u ? u : undefined)
  e.metric(
    'outpost_upstream_connected',
    'gauge',
    '1 when the upstream connection is up.',
    per((u) => ((fwd(u)?.connection ?? u.state) === 'connected' ? 1 : 0)),
  )
  e.metric(
    'outpost_upstream_stalled',
    'gauge',
    '1 while the upstream is stalled: no acknowledgement for the oldest message in flight within ackTimeoutMs.',
    per((u) => (u.state === 'stalled' ? 1 : 0)),
  )
  e.metric(
    'outpost_upstream_stalls_total',
    'counter',
    'Times the upstream became stalled.',
    per((u) => fwd(u)?.stalls ?? 0),
  )
  e.metric(
    'outpost_upstream_isolating',
    'gauge',
    '1 while a message the upstream keeps dropping the connection on is sent alone (poison detection).',
    per((u) => (fwd(u)?.isolating ? 1 : 0)),
  )
  e.metric(
    'outpost_upstream_refusals_total',
    'counter',
    'Messages the upstream refused with a transient reason code (resent after a backoff), by code.',
    ups.flatMap(
      (u): Array<[Labels, number]> =>
        Object.entries(fwd(u)?.refusals ?? {}).map(([code, n]) => [
          { upstream: u.name, type: u.type, code },
          n,
        ]),
    ),
  )
  e.metric(
    'outpost_upstream_backlog_messages',
    'gauge',
    'Records past the upstream cursor.',
    per((u) => cursors.get(u.name)?.backlogMessages ?? 0),
  )
  e.metric(
    'outpost_upstream_backlog_bytes',
    'gauge',
    'Bytes past the upstream cursor.',
    per((u) => cursors.get(u.name)?.backlogBytes ?? 0),
  )
  e.metric(
    'outpost_upstream_oldest_age_seconds',
    'gauge',
    'Age of the oldest record not yet delivered.',
    per((u) => (cursors.get(u.name)?.oldestAgeMs ?? 0) / 1000),
  )
  e.metric(
    'outpost_upstream_sent_total',
    'counter',
    'Messages published upstream (resends included).',
    per((u) => u.sent),
  )
  e.metric(
    'outpost_upstream_acked_total',
    'counter',
    'Messages the upstream acknowledged.',
    per((u) => u.acked),
  )
  e.metric(
    'outpost_upstream_inflight',
    'gauge',
    'Messages awaiting acknowledgement.',
    per((u) => u.inflight),
  )
  e.metric(
    'outpost_upstream_connects_total',
    'counter',
    'Successful connections to the upstream.',
    per((u) => fwd(u)?.connects ?? 0),
  )
  e.metric(
    'outpost_upstream_disconnects_total',
    'counter',
    'Connections to the upstream that ended (lost, or closed to resend).',
    per((u) => fwd(u)?.disconnects ?? 0),
  )
  e.metric(
    'outpost_upstream_origin_omitted_total',
    'counter',
    'Readings forwarded without outpost-origin: their client id is not a legal MQTT string.',
    per((u) => fwd(u)?.originOmitted ?? 0),
  )

  const d = o.deadLetters
  e.metric(
    'outpost_dead_letters_total',
    'counter',
    'Records moved to the dead letters (an upstream will never take them), by upstream and reason.',
    d.totals.map((t): [Labels, number] => [{ upstream: t.upstream, reason: t.reason }, t.count]),
  )
  e.metric('outpost_dead_letters', 'gauge', 'Dead letters held now.', one(d.messages))
  e.metric('outpost_dead_letter_bytes', 'gauge', 'Bytes of the dead letters held now.', one(d.bytes))
  e.metric(
    'outpost_dead_letter_max_bytes',
    'gauge',
    'Bound of the dead letters (the oldest are evicted beyond it).',
    one(d.maxBytes),
  )
  e.metric('outpost_dead_letters_removed_total', 'counter', 'Dead letters removed, by how.', [
    [{ how: 'requeued' }, d.requeued],
    [{ how: 'purged' }, d.purged],
    [{ how: 'evicted' }, d.evicted],
  ])
  e.metric(
    'outpost_downlink_connected',
    'gauge',
    "1 when the upstream's downlink connection is up (upstreams with downlink entries only).",
    ups.flatMap((u): Array<[Labels, number]> => {
      const f = downlink(u)
      if (!f || f.downlinkState === 'off') return []
      return [[{ upstream: u.name, type: u.type }, f.downlinkState === 'connected' ? 1 : 0]]
    }),
  )
  e.metric('outpost_downlink_messages_total', 'counter', 'Downlink messages, by outcome.', [
    ...per((u) => downlink(u)?.downlinkDelivered ?? 0).map(([l, v]): [Labels, number] => [
      { ...l, outcome: 'delivered' },
      v,
    ]),
    ...per((u) => downlink(u)?.downlinkFailed ?? 0).map(([l, v]): [Labels, number] => [
      { ...l, outcome: 'failed' },
      v,
    ]),
  ])
  deviceMetrics(e, s.devices)
  return e.text()
}
