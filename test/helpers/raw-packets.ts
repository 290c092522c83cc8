// The hand-encoded packets live in scripts/ci so the load generators use them too (scripts may not
// import test/).
export {
  bytes,
  lengthPrefixed,
  rawConnect,
  rawPublish,
  remainingLength,
} from '../../scripts/ci/raw-packets.js'
