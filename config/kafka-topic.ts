// Kafka's rule for topic names, and whether a route's topic template can ever satisfy it (issue #8:
// `check-config` rejects a Kafka topic template that can never produce a legal name; the forwarder
// dead-letters a record whose rendered name is illegal instead of sending it).
//
// The rule, as the broker enforces it (org.apache.kafka.common.internals.Topic.validate):
//   - 1 to 249 characters (Topic.MAX_NAME_LENGTH: a partition's directory, "<topic>-<partition>" and
//     the suffix the broker adds while deleting it, must fit a 255-byte file name);
//   - only ASCII letters, digits, ".", "_" and "-";
//   - not "." or "..".
// ("." and "_" collide in metric names: such a name is legal, but the broker refuses to create a topic
// that differs from an existing one only by them. That depends on the cluster, not on the name.)
// It lives in config/ so the schema's checks can use it; the forwarder imports it from here.
import {
  captureCount,
  type FilterLevel,
  parseFilter,
  parseTemplate,
  type TemplatePart,
} from './topic-pattern.js'

export const KAFKA_TOPIC_MAX_LENGTH = 249

const ILLEGAL_CHAR = /[^a-zA-Z0-9._-]/

/** Why `name` is not a legal Kafka topic name, or undefined when it is. */
export function kafkaTopicProblem(name: string): string | undefined {
  if (name.length === 0) return 'a Kafka topic name must not be empty'
  if (name === '.' || name === '..') return `"${name}" is not a legal Kafka topic name`
  if (name.length > KAFKA_TOPIC_MAX_LENGTH)
    return `a Kafka topic name has at most ${KAFKA_TOPIC_MAX_LENGTH} characters (this one has ${name.length})`
  const bad = ILLEGAL_CHAR.exec(name)
  if (bad !== null)
    return `a Kafka topic name has only letters, digits, ".", "_" and "-" (this one has ${JSON.stringify(bad[0])})`
  return undefined
}

export function isLegalKafkaTopic(name: string): boolean {
  return kafkaTopicProblem(name) === undefined
}

/**
 * Why a route's topic `template` (for the filter `match`) can never render a legal Kafka topic name,
 * or undefined when some message could get a legal one. Literal text outside the rule, more than 249
 * characters in every rendering, or {topic} for a filter whose topics always have two levels or more
 * (so always a "/") rule out every rendering. {origin} and the captures can always render as legal
 * characters (a "#" capture can be one level). With `gatewayId` given, {gatewayId} is taken as its
 * value. A template or filter that does not parse is reported by the schema itself: undefined here.
 */
export function kafkaTopicTemplateProblem(
  template: string,
  match: string,
  gatewayId?: string,
): string | undefined {
  const filter = parseFilter(match)
  if (!filter.ok) return undefined
  const parsed = parseTemplate(template, captureCount(filter.value))
  if (!parsed.ok) return undefined
  const parts = parsed.value.map((p) => render(p, filter.value, gatewayId))
  const literal = parts.map((p) => p.text ?? '').join('')
  const bad = ILLEGAL_CHAR.exec(literal)?.[0] ?? (parts.some((p) => p.slash) ? '/' : undefined)
  if (bad !== undefined)
    return `can never be a legal Kafka topic name: it always contains ${JSON.stringify(bad)} (Kafka allows only letters, digits, ".", "_" and "-")`
  const shortest = parts.reduce((n, p) => n + (p.text?.length ?? p.minLength), 0)
  if (shortest > KAFKA_TOPIC_MAX_LENGTH)
    return `can never be a legal Kafka topic name: it renders at least ${shortest} characters (at most ${KAFKA_TOPIC_MAX_LENGTH})`
  if (parts.every((p) => p.text !== undefined)) {
    const problem = kafkaTopicProblem(literal)
    if (problem !== undefined) return `can never be a legal Kafka topic name: ${problem}`
  }
  return undefined
}

interface Rendered {
  /** The text the part always renders as; undefined when it depends on the message. */
  text?: string | undefined
  /** The fewest characters it renders when `text` is undefined. */
  minLength: number
  /** It always renders a "/". */
  slash: boolean
}

function render(part: TemplatePart, levels: readonly FilterLevel[], gatewayId: string | undefined): Rendered {
  switch (part.kind) {
    case 'text':
      return { text: part.text, minLength: 0, slash: false }
    case 'gatewayId':
      return { text: gatewayId, minLength: 1, slash: false }
    case 'origin':
      return { minLength: 0, slash: false }
    case 'capture': {
      const captured = levels.filter((l) => l.kind !== 'literal')[part.index - 1]
      if (captured?.kind === 'gatewayId') return { text: gatewayId, minLength: 1, slash: false }
      return { minLength: 0, slash: false }
    }
    case 'topic': {
      // A filter of n levels matches topics of n levels; a trailing "#" also matches its parent
      // [MQTT-4.7.1-2], so n - 1 levels at least.
      const fewest = levels.length - (levels.at(-1)?.kind === 'hash' ? 1 : 0)
      return { minLength: 1, slash: fewest >= 2 }
    }
  }
}
