// Addresses as the kernel's netlink attributes carry them: 4 or 16 bytes, network order.
import { bitsOf, type Family, type Ip, ip } from "../../domain/Ip.ts"

/** Linux address family numbers. */
export const AF_INET = 2
export const AF_INET6 = 10

/** The netlink address family of an IP family. */
export const addressFamilyOf = (family: Family): number => (family === 4 ? AF_INET : AF_INET6)

/** The IP family of a netlink address family, if it is one. */
export const familyOfAddressFamily = (addressFamily: number | undefined): Family | undefined =>
  addressFamily === AF_INET ? 4 : addressFamily === AF_INET6 ? 6 : undefined

/** The address as 4 (IPv4) or 16 (IPv6) bytes in network order. */
export const toBytes = (address: Ip): Buffer => {
  const size = bitsOf(address.family) / 8
  const bytes = Buffer.alloc(size)
  let value = address.value
  for (let i = size - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn)
    value >>= 8n
  }
  return bytes
}

/** The address in `bytes`, or undefined when the length does not fit the family. */
export const fromBytes = (family: Family, bytes: Uint8Array | undefined): Ip | undefined => {
  if (bytes === undefined || bytes.length !== bitsOf(family) / 8) return undefined
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  return ip(family, value)
}
