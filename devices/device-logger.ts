// What a device adapter logs through: the part of pino it uses, so devices/ need not import gateway/.
export interface DeviceLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}
