// A Kafka broker of a test's own (scripts/ci/kafka-broker.ts: scripts/kafka/start.sh on free ports), its
// data in a temp dir removed after the test file — for tests that stop, restart or SIGSTOP the cluster
// without disturbing the shared broker other tests use at the same time.
import { join } from 'node:path'
import { KafkaBroker as Broker } from '../../scripts/ci/kafka-broker.js'
import { tempDir } from './tmp.js'

export type KafkaBroker = Broker

export const KafkaBroker = {
  start: (): Promise<Broker> => Broker.start(join(tempDir('outpost-kafka-'), 'kafka')),
}
