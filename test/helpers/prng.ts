// A small seeded PRNG (mulberry32): randomised tests print their seed, so a failing run can be replayed.
// The same generator the simulator and the benchmarks use.
export { mulberry32 as prng } from '../../devices/simulator/prng.js'
