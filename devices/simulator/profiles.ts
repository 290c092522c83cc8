// What simulated devices measure. Each device's values follow a bounded random walk from its own seeded
// PRNG (the same seed, the same readings), with an occasional alarm: the kind of data a dashboard, a
// rule engine or a cloud pipeline is tested with.

export const PROFILES = ['env', 'gps', 'vibration', 'mixed'] as const
export type ProfileName = (typeof PROFILES)[number]
type Kind = Exclude<ProfileName, 'mixed'>

/** A reading: JSON with the device id, a per-device sequence number (from 0) and an ISO timestamp. */
export interface SimReading {
  device: string
  seq: number
  ts: string
  [field: string]: string | number | boolean
}

export interface Sensor {
  readonly kind: Kind
  next(nowMs: number): SimReading
}

/** The sensor of device `index` (mixed: env, gps and vibration in turn). */
export function createSensor(
  profile: ProfileName,
  device: string,
  index: number,
  random: () => number,
): Sensor {
  const kind: Kind = profile === 'mixed' ? (['env', 'gps', 'vibration'] as const)[index % 3]! : profile
  const make = { env: envSensor, gps: gpsSensor, vibration: vibrationSensor }[kind]
  return make(device, random)
}

/**
 * A value that moves by at most `step` per reading, drawn gently back towards where it started (so it
 * wanders without sticking to a bound), and stays within [min, max].
 */
function walk(random: () => number, start: number, step: number, min: number, max: number): () => number {
  let v = start
  return () => {
    v = Math.min(max, Math.max(min, v + (random() * 2 - 1) * step + (start - v) * 0.01))
    return v
  }
}

const round = (v: number, digits: number) => Number(v.toFixed(digits))

function envSensor(device: string, random: () => number): Sensor {
  const temperature = walk(random, 18 + random() * 6, 0.15, -20, 60)
  const humidity = walk(random, 40 + random() * 20, 0.5, 5, 100)
  const pressure = walk(random, 1005 + random() * 15, 0.2, 950, 1050)
  let battery = 3.9 + random() * 0.3
  let seq = 0
  return {
    kind: 'env',
    next(nowMs) {
      battery = Math.max(3.3, battery - random() * 0.0005)
      const t = temperature()
      const r: SimReading = {
        device,
        seq: seq++,
        ts: new Date(nowMs).toISOString(),
        temperatureC: round(t, 2),
        humidityPct: round(humidity(), 1),
        pressureHpa: round(pressure(), 1),
        batteryV: round(battery, 3),
      }
      // About one reading in 500 raises an alarm, as do real extremes.
      if (t > 35 || random() < 0.002) r.alarm = t > 35 ? 'temperature_high' : 'tamper'
      return r
    },
  }
}

function gpsSensor(device: string, random: () => number): Sensor {
  // A vehicle around Trondheim: heading drifts, speed wanders, position follows.
  let lat = 63.4 + random() * 0.05
  let lon = 10.35 + random() * 0.1
  const heading = walk(random, random() * 360, 8, 0, 359.9)
  const speed = walk(random, 20 + random() * 40, 3, 0, 110)
  const altitude = walk(random, 20 + random() * 100, 0.8, 0, 600)
  let seq = 0
  return {
    kind: 'gps',
    next(nowMs) {
      const h = heading()
      const v = speed()
      const metres = v / 3.6 // per reading, as if one second apart
      lat += (metres * Math.cos((h * Math.PI) / 180)) / 111_320
      lon += (metres * Math.sin((h * Math.PI) / 180)) / (111_320 * Math.cos((lat * Math.PI) / 180))
      const r: SimReading = {
        device,
        seq: seq++,
        ts: new Date(nowMs).toISOString(),
        lat: round(lat, 6),
        lon: round(lon, 6),
        speedKmh: round(v, 1),
        headingDeg: round(h, 1),
        altitudeM: round(altitude(), 1),
        satellites: 6 + Math.floor(random() * 7),
      }
      if (v > 100 || random() < 0.002) r.alarm = v > 100 ? 'overspeed' : 'geofence'
      return r
    },
  }
}

function vibrationSensor(device: string, random: () => number): Sensor {
  const rms = walk(random, 0.2 + random() * 0.3, 0.03, 0.01, 4)
  const freq = walk(random, 48 + random() * 4, 0.2, 10, 200)
  const temperature = walk(random, 40 + random() * 10, 0.1, 0, 120)
  let seq = 0
  return {
    kind: 'vibration',
    next(nowMs) {
      const g = rms()
      const r: SimReading = {
        device,
        seq: seq++,
        ts: new Date(nowMs).toISOString(),
        rmsG: round(g, 3),
        peakG: round(g * (1.4 + random() * 0.8), 3),
        frequencyHz: round(freq(), 2),
        bearingTempC: round(temperature(), 1),
      }
      if (g > 2.5 || random() < 0.002) r.alarm = g > 2.5 ? 'vibration_high' : 'bearing_wear'
      return r
    },
  }
}
