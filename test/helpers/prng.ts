// A small seeded PRNG (mulberry32): randomised tests print their seed, so a failing run can be replayed.
// The same generator the benchmarks use for their workloads.
export { mulberry32 as prng } from '../../scripts/bench/workload.js'
