// Errors of the gateway area. Codes are a closed set; classify by code, never by message text.

export const GATEWAY_ERROR_CODES = [
  /** A publish to a reserved "$SYS/" topic. */
  'OUTPOST_PUBLISH_RESERVED_TOPIC',
  /** A publish the client's ACL does not allow. */
  'OUTPOST_PUBLISH_NOT_AUTHORIZED',
  /** A QoS 1/2 publish the outbox refused (full, disk, write failure): no PUBACK, the client is disconnected. */
  'OUTPOST_PUBLISH_NOT_STORED',
  /** A publish (or will) topic that is not valid UTF-8 or has a character upstreams refuse. */
  'OUTPOST_PUBLISH_BAD_TOPIC',
  /** A publish whose topic upstream would be invalid, under a route with invalidTopic: refuse. */
  'OUTPOST_PUBLISH_UPSTREAM_TOPIC_INVALID',
  /** A client that stayed over its broker.limits for longer than maxThrottledSec: disconnected. */
  'OUTPOST_CLIENT_THROTTLED',
  /** A packet over broker.maxPacketBytes. */
  'OUTPOST_PACKET_TOO_LARGE',
  /** A listener could not be opened. */
  'OUTPOST_LISTEN_FAILED',
  /** An upstream connection failed or was lost. */
  'OUTPOST_UPSTREAM_UNAVAILABLE',
  /** An upstream refused a message with a transient reason code: reconnect, resend after a backoff. */
  'OUTPOST_UPSTREAM_REFUSED',
  /** An upstream did not acknowledge the oldest message in flight within ackTimeoutMs: reconnect, resend. */
  'OUTPOST_UPSTREAM_STALLED',
  /** An upstream's config asks for something this build cannot do (e.g. a compression codec). */
  'OUTPOST_UPSTREAM_UNSUPPORTED',
  /** The broker's session store (<dataDir>/broker) is locked by another process. */
  'OUTPOST_SESSION_STORE_LOCKED',
  /** The broker's session store could not be opened (even after LevelDB's repair), or its contents read. */
  'OUTPOST_SESSION_STORE_OPEN_FAILED',
  /** Stopping did not finish within its deadline. */
  'OUTPOST_STOP_TIMEOUT',
] as const
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number]

export class GatewayError extends Error {
  override readonly name = 'GatewayError'
  readonly code: GatewayErrorCode
  readonly canRetry: boolean

  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown; canRetry?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.canRetry = options?.canRetry ?? false
  }
}
