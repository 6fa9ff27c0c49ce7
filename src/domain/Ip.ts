// IP addresses and CIDR prefixes as family + bigint, parsed and printed through ip-num.
import * as Option from "effect/Option"
// ip-num's modules, not its index: the index loads IPNumber.js, whose static tables (private,
// multicast, documentation ranges...) run the IPv6 pattern ~15 times at start-up, ~7 ms of every
// CNI call. The validator, the expander and the bit helpers are all the parsing below needs.
import {
  dottedDecimalNotationToBinaryString,
  parseBinaryStringToBigInt
} from "ip-num/dist/src/BinaryUtils.js"
import { expandIPv6Number } from "ip-num/dist/src/IPv6Utils.js"
import { Validator } from "ip-num/dist/src/Validator.js"

/** Address family: 4 or 6. */
export type Family = 4 | 6

/** One IPv4 or IPv6 address as a number, so arithmetic and ordering are cheap. */
export interface Ip {
  readonly family: Family
  readonly value: bigint
}

/** A prefix: the network address (host bits zero) and its length. */
export interface Cidr {
  readonly family: Family
  readonly network: bigint
  readonly length: number
}

/** Bits in an address of this family. */
export const bitsOf = (family: Family): number => (family === 4 ? 32 : 128)

/** Make an address from a family and a number. */
export const ip = (family: Family, value: bigint): Ip => ({ family, value })

const v4Pattern = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** Parse a bare address ("100.64.0.5", "fd00::5"); None when it is not one. */
export const parseIp = (text: string): Option.Option<Ip> => {
  if (v4Pattern.test(text)) {
    return Option.some(ip(4, parseBinaryStringToBigInt(dottedDecimalNotationToBinaryString(text))))
  }
  if (text.includes(":") && /^[0-9a-fA-F:.]+$/.test(text)) {
    // what ip-num's IPv6.fromString does: validate, expand to eight hexadecatets, read them as one number
    try {
      const [valid] = Validator.isValidIPv6String(text)
      if (!valid) return Option.none()
      return Option.some(ip(6, BigInt(`0x${expandIPv6Number(text).replaceAll(":", "")}`)))
    } catch {
      return Option.none()
    }
  }
  return Option.none()
}

/** Print an address the way iproute2 and the kernel do (IPv6 compressed, RFC 5952). */
export const formatIp = (address: Ip): string =>
  address.family === 4 ? formatIpv4(address.value) : formatIpv6(address.value)

const formatIpv4 = (value: bigint): string =>
  `${(value >> 24n) & 255n}.${(value >> 16n) & 255n}.${(value >> 8n) & 255n}.${value & 255n}`

const formatIpv6 = (value: bigint): string => {
  const groups: Array<number> = []
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn))
  // the longest run (of at least two) of zero groups becomes "::"
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestLength < 2) return hex.join(":")
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`
}

/** Parse "addr/len" once: the address as written and its prefix (host bits cleared). */
const parsePrefixed = (text: string): Option.Option<{ readonly address: Ip; readonly cidr: Cidr }> => {
  const slash = text.indexOf("/")
  if (slash < 0) return Option.none()
  const lengthText = text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(lengthText)) return Option.none()
  return Option.flatMap(parseIp(text.slice(0, slash)), (address) => {
    const length = Number(lengthText)
    if (length > bitsOf(address.family)) return Option.none()
    const network = address.value & maskOf(address.family, length)
    return Option.some({ address, cidr: { family: address.family, network, length } })
  })
}

/** Parse "addr/len". With `strict`, host bits must be zero; otherwise they are cleared. */
export const parseCidr = (text: string, options?: { readonly strict?: boolean }): Option.Option<Cidr> =>
  Option.flatMap(parsePrefixed(text), ({ address, cidr }) =>
    options?.strict === true && cidr.network !== address.value ? Option.none() : Option.some(cidr)
  )

/** Parse "addr/len" keeping the address: for requests like CIDR=100.64.0.5/16. */
export const parseAddressWithPrefix = (
  text: string
): Option.Option<{ readonly address: Ip; readonly cidr: Cidr }> => parsePrefixed(text)

/** Bit mask with the first `length` bits set. */
export const maskOf = (family: Family, length: number): bigint => {
  const bits = BigInt(bitsOf(family))
  const all = (1n << bits) - 1n
  return all ^ ((1n << (bits - BigInt(length))) - 1n)
}

/** "network/length". */
export const formatCidr = (cidr: Cidr): string => `${formatIp(ip(cidr.family, cidr.network))}/${cidr.length}`

/** First address of a prefix. */
export const firstOf = (cidr: Cidr): Ip => ip(cidr.family, cidr.network)

/** Last address of a prefix. */
export const lastOf = (cidr: Cidr): Ip =>
  ip(cidr.family, cidr.network | ((1n << BigInt(bitsOf(cidr.family) - cidr.length)) - 1n))

/** Number of addresses a prefix covers. */
export const sizeOf = (cidr: Cidr): bigint => 1n << BigInt(bitsOf(cidr.family) - cidr.length)

/** Whether the prefix covers the address. */
export const contains = (cidr: Cidr, address: Ip): boolean =>
  cidr.family === address.family && (address.value & maskOf(cidr.family, cidr.length)) === cidr.network

/** Whether two prefixes share any address. */
export const overlaps = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && (contains(a, firstOf(b)) || contains(b, firstOf(a)))

/** The host prefix (/32 or /128) of an address. */
export const hostPrefixOf = (address: Ip): Cidr => ({
  family: address.family,
  network: address.value,
  length: bitsOf(address.family)
})

/** Same family and value. */
export const equals = (a: Ip, b: Ip): boolean => a.family === b.family && a.value === b.value

/** Stable text key of an address, for maps and sets. */
export const keyOf = (address: Ip): string => `${address.family}:${address.value.toString(16)}`

/** Total order: IPv4 before IPv6, then by value. */
export const compare = (a: Ip, b: Ip): -1 | 0 | 1 =>
  a.family !== b.family ? (a.family < b.family ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0
