// The broker's counters, read by /api/status and /metrics (gateway/http/metrics.ts names them there).
// Every publish the broker takes in (publishesReceived) ends up in exactly one of: stored, localOnly,
// qos0Dropped, notStored, refusedUpstreamTopic — once its append settled.

export interface BrokerCounters {
  /** Client connections open now (sockets accepted and not yet closed). */
  connections: number
  /** Client connections accepted. */
  connectionsTotal: number
  authFailures: number
  publishesReceived: number
  /** Committed to the outbox. */
  stored: number
  /** Matched no route: delivered to local subscribers only. */
  localOnly: number
  /** QoS 0 messages the outbox refused: dropped (nothing to withhold). */
  qos0Dropped: number
  /** QoS 1/2 messages the outbox refused: no PUBACK, client disconnected (it resends after reconnecting). */
  notStored: number
  refusedReservedTopic: number
  refusedNotAuthorized: number
  /** Publishes (and wills) whose topic is not allowed (config/topic-chars.ts): refused, client disconnected. */
  refusedBadTopic: number
  /** Publishes whose topic upstream would be invalid, under a route with invalidTopic: refuse. */
  refusedUpstreamTopic: number
  /** Publishes refused because their client was being disconnected for staying over its limits. */
  refusedThrottled: number
  refusedSubscriptions: number
  oversizedPackets: number
  malformedPackets: number
  /** CONNECTs refused (CONNACK 2) for a client id that is not valid UTF-8 or has refused characters. */
  refusedClientIds: number
  /** Connections closed for sending no CONNECT within broker.connectTimeoutMs. */
  connectTimeouts: number
  /** Connections closed for silence beyond 1.5 × their keep alive [MQTT-3.1.2-24]. */
  keepaliveTimeouts: number
  /** Connections closed for staying over their limits longer than maxThrottledSec. */
  throttledDisconnects: number
  /** Times a client was held back: by its own limits, or for its share of maxPendingBytes. */
  throttled: number
  throttledPending: number
  /** Clients held back now. */
  throttledNow: number
  /** Other client errors (socket resets, protocol violations after the fact). */
  clientErrors: number
}

export function zeroCounters(): BrokerCounters {
  return {
    connections: 0,
    connectionsTotal: 0,
    authFailures: 0,
    publishesReceived: 0,
    stored: 0,
    localOnly: 0,
    qos0Dropped: 0,
    notStored: 0,
    refusedReservedTopic: 0,
    refusedNotAuthorized: 0,
    refusedBadTopic: 0,
    refusedUpstreamTopic: 0,
    refusedThrottled: 0,
    refusedSubscriptions: 0,
    oversizedPackets: 0,
    malformedPackets: 0,
    refusedClientIds: 0,
    connectTimeouts: 0,
    keepaliveTimeouts: 0,
    throttledDisconnects: 0,
    throttled: 0,
    throttledPending: 0,
    throttledNow: 0,
    clientErrors: 0,
  }
}
