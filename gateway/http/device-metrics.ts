// Prometheus metrics of serial devices (appended to metrics.ts's exposition), labelled by device.
import type { SerialDeviceStatus } from '../../devices/device-status.js'
import { DROP_REASONS, GARBAGE_REASONS, POLL_ERROR_REASONS, POLL_SKIP_REASONS } from '../../devices/errors.js'
import type { GatewayStatus } from '../gateway.js'
import type { Exposition, Labels } from './metrics.js'

export function deviceMetrics(e: Exposition, devices: GatewayStatus['devices']): void {
  const serial = devices.serial
  if (serial.length === 0) return
  const per = (f: (d: SerialDeviceStatus) => number): Array<[Labels, number]> =>
    serial.map((d) => [{ device: d.name, type: 'serial' }, f(d)])
  e.metric(
    'outpost_device_up',
    'gauge',
    '1 while the serial port is open.',
    per((d) => (d.state === 'open' ? 1 : 0)),
  )
  e.metric(
    'outpost_device_opens_total',
    'counter',
    'Times the serial port was opened.',
    per((d) => d.opens),
  )
  e.metric(
    'outpost_device_read_bytes_total',
    'counter',
    'Bytes read from the port.',
    per((d) => d.bytesRead),
  )
  e.metric(
    'outpost_device_frames_total',
    'counter',
    'Frames decoded.',
    per((d) => d.frames),
  )
  e.metric(
    'outpost_device_readings_total',
    'counter',
    'Readings taken (committed to the outbox, or local only).',
    per((d) => d.readings),
  )
  e.metric(
    'outpost_device_garbage_total',
    'counter',
    'Input skipped as not a reading, by reason.',
    serial.flatMap((d) =>
      GARBAGE_REASONS.map((reason): [Labels, number] => [
        { device: d.name, type: 'serial', reason },
        d.garbage[reason] ?? 0,
      ]),
    ),
  )
  e.metric(
    'outpost_device_dropped_total',
    'counter',
    'Readings the outbox refused (dropped: a serial line cannot resend), by reason.',
    serial.flatMap((d) =>
      DROP_REASONS.map((reason): [Labels, number] => [
        { device: d.name, type: 'serial', reason },
        d.dropped[reason] ?? 0,
      ]),
    ),
  )
  pollMetrics(e, serial)
}

/** Devices that poll (modbus-rtu): requests, failures and skipped polls by reason. */
function pollMetrics(e: Exposition, serial: readonly SerialDeviceStatus[]): void {
  const polling = serial.flatMap((d) => (d.polls ? [{ name: d.name, polls: d.polls }] : []))
  if (polling.length === 0) return
  const label = (name: string, extra: Labels = {}): Labels => ({ device: name, type: 'serial', ...extra })
  e.metric(
    'outpost_device_polls_total',
    'counter',
    'Polls run (every unit read once).',
    polling.map((d) => [label(d.name), d.polls.polls]),
  )
  e.metric(
    'outpost_device_poll_requests_total',
    'counter',
    'Read requests sent.',
    polling.map((d) => [label(d.name), d.polls.requests]),
  )
  e.metric(
    'outpost_device_poll_errors_total',
    'counter',
    'Read requests without a usable response, by reason.',
    polling.flatMap((d) =>
      POLL_ERROR_REASONS.map((reason): [Labels, number] => [
        label(d.name, { reason }),
        d.polls.errors[reason] ?? 0,
      ]),
    ),
  )
  e.metric(
    'outpost_device_polls_skipped_total',
    'counter',
    'Polls that were due and did not run, by reason.',
    polling.flatMap((d) =>
      POLL_SKIP_REASONS.map((reason): [Labels, number] => [
        label(d.name, { reason }),
        d.polls.skipped[reason] ?? 0,
      ]),
    ),
  )
}
