// The port as the adapter sees it, and the default way to open one (serialport 13). A seam: tests pass
// a factory that opens @serialport/binding-mock ports (SerialPortMock) instead.
import { SerialPort } from 'serialport'
import type { SerialDeviceConfig } from '../../config/schema.js'

export type SerialLinkOptions = Pick<
  SerialDeviceConfig,
  'path' | 'baudRate' | 'dataBits' | 'parity' | 'stopBits' | 'rtscts'
>

/** The part of a serialport stream the adapter uses. */
export interface SerialLink {
  readonly isOpen: boolean
  open(callback: (err: Error | null) => void): void
  close(callback?: (err: Error | null) => void): void
  /** modbus-rtu writes its requests; the other framings only read. */
  write(data: Buffer, callback: (err: Error | null | undefined) => void): unknown
  pause(): unknown
  resume(): unknown
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'close' | 'error', listener: (err?: Error | null) => void): unknown
  on(event: 'end', listener: () => void): unknown
  removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown
  removeListener(event: 'close' | 'error', listener: (err?: Error | null) => void): unknown
  removeListener(event: 'end', listener: () => void): unknown
}

/** Creates an unopened link; the adapter opens it. */
export type CreateSerialLink = (options: SerialLinkOptions) => SerialLink

export const createSerialPort: CreateSerialLink = (o) =>
  new SerialPort({
    path: o.path,
    baudRate: o.baudRate,
    dataBits: o.dataBits,
    parity: o.parity,
    stopBits: o.stopBits,
    rtscts: o.rtscts,
    autoOpen: false,
    // An exclusive lock (TIOCEXCL): a second reader would steal bytes from the first.
    lock: true,
  })
