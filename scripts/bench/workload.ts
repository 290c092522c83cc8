// Message content shared by the benchmarks: telemetry-like payloads from a fixed seed and the device
// topics they are published under, so every benchmark (and every run) sends the same bytes.
import { mulberry32 } from '../../devices/simulator/prng.js'

/** Small seeded PRNG, so every run writes the same bytes (the simulator's). */
export { mulberry32 }

/** Topic of simulated device `device` (zero-padded so every topic has the same length). */
export function deviceTopic(device: number, width = 3): string {
  return `sensors/${deviceId(device, width)}/telemetry`
}

export function deviceId(device: number, width = 3): string {
  return `dev-${String(device).padStart(width, '0')}`
}

/**
 * `count` telemetry payloads of exactly `bytes` bytes (JSON with random digits, padded), from a fixed
 * seed. LevelDB compresses blocks with Snappy, so the content matters and must not be all zeros.
 */
export function telemetryPayloads(count: number, bytes: number, seed = 0x5eed0b0c): Buffer[] {
  const random = mulberry32(seed)
  return Array.from({ length: count }, (_, i) => telemetryPayload(i, bytes, random))
}

export function telemetryPayload(seq: number, bytes: number, random: () => number): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let s =
    `{"seq":${seq},"temp":${(15 + random() * 15).toFixed(2)},"hum":${(30 + random() * 40).toFixed(1)},` +
    `"bat":${(3.3 + random() * 0.9).toFixed(3)},"rssi":${-40 - Math.floor(random() * 60)},"pad":"`
  while (s.length < bytes - 2) s += alphabet[Math.floor(random() * alphabet.length)]
  return Buffer.from((s + '"}').slice(0, bytes))
}
