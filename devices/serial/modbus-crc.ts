// CRC-16/MODBUS (Modbus over Serial Line V1.02, §6.2.2): polynomial 0x8005 reflected (0xA001), initial
// value 0xFFFF, no final XOR. On the wire the CRC follows the frame low byte first, the one little-endian
// field of an RTU frame. Check value: "123456789" → 0x4B37.

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let n = 0; n < 256; n++) {
    let crc = n
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
    table[n] = crc
  }
  return table
})()

export function modbusCrc(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const byte of bytes) crc = (crc >>> 8) ^ (TABLE[(crc ^ byte) & 0xff] as number)
  return crc
}

/** The frame with its CRC appended (low byte first). */
export function withCrc(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 2)
  frame.copy(out)
  out.writeUInt16LE(modbusCrc(frame), frame.length)
  return out
}

/** True when the frame's last two bytes are the CRC of the bytes before them. */
export function crcOk(frame: Buffer): boolean {
  return frame.length >= 3 && frame.readUInt16LE(frame.length - 2) === modbusCrc(frame.subarray(0, -2))
}
