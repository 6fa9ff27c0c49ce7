// The plain bundle's payload (program text, V8 code cache, netlink addon): one line comment at the end of the file, read back as bytes.
import * as fs from "node:fs"

// Why a comment: Node reads a script file as text and V8 scans all of it before anything runs. A
// 2.3 MiB string literal costs ~25-28 ms of CPU to scan and build; the same bytes in a comment
// ~8-11 ms (bench/bundleLayout.ts). A line comment, not a block comment: a truncated file still
// parses, so the outer layer can say what is wrong (an unterminated `/*` makes Node print the
// whole line).

/** Where each section of the payload line lies; made by `encodeBundlePayload`, baked into the outer layer. */
export interface BundleLayout {
  /** Names this build's payload (hex, from a hash of the line): a file of another build never matches. */
  readonly id: string
  /** The one character that stands for "\n" in the program section ("" when the program has no newline). */
  readonly newlineEscape: string
  /** Characters (= bytes: the program is ASCII) of the program text. */
  readonly programLength: number
  /** Characters of the code cache in base64, and its length in bytes once decoded (both 0: no cache). */
  readonly codeCacheBase64Length: number
  readonly codeCacheLength: number
  /** Characters of the netlink addon in base64, and its length in bytes once decoded. */
  readonly addonBase64Length: number
  readonly addonLength: number
}

/** What the outer layer needs from its payload. */
export interface BundlePayload {
  /** The program text exactly as the build compiled it for the code cache. */
  readonly program: string
  readonly codeCache: Buffer | undefined
  /** The netlink addon's bytes, decoded on the first call. */
  readonly addonBytes: () => Uint8Array
}

/** The payload line does not match the layout: the file is truncated, extended, or from another build. */
export class BundlePayloadError extends Error {
  override readonly name = "BundlePayloadError"
}

const marker = "routetable-ipam payload "

/** The bytes the payload's line starts with (after the file's previous line). */
const lineHead = (layout: BundleLayout): string => `\n//${marker}${layout.id}:`

/** The length of the file's tail that `readBundlePayload` reads: from the newline before the payload line to the end. */
const tailLength = (layout: BundleLayout): number =>
  lineHead(layout).length + layout.programLength + layout.codeCacheBase64Length + layout.addonBase64Length + 1

/** Fills `into[0, length)` from `fd` at `position`; throws when the file ends first. */
const readFully = (fd: number, into: Buffer, length: number, position: number): void => {
  let read = 0
  while (read < length) {
    const n = fs.readSync(fd, into, read, length - read, position + read)
    if (n === 0) throw new BundlePayloadError(`the file ended while its payload was read`)
    read += n
  }
}

/** Throws unless a section decoded to exactly `expected` bytes (Node's base64 decoder skips foreign characters: a damaged section comes out shorter). */
const checkDecoded = (decoded: number, expected: number, what: string): void => {
  if (decoded !== expected)
    throw new BundlePayloadError(`the ${what} section decodes to ${decoded} bytes, expected ${expected}`)
}

/** `base64` decoded, exactly `length` bytes. */
const decodeExactly = (base64: string, length: number, what: string): Buffer => {
  const bytes = Buffer.from(base64, "base64")
  checkDecoded(bytes.length, length, what)
  return bytes
}

/** The addon's bytes from its base64 text, decoded once on the first call (a closure of nothing else). */
const lazyAddon = (base64: string, length: number): (() => Uint8Array) => {
  let addon: Buffer | undefined
  return () => (addon ??= decodeExactly(base64, length, "netlink addon"))
}

/**
 * Bytes per read (a multiple of 4: base64 quanta stay whole). Measured on an ADD: 64 KiB strings
 * filled the young generation (3 scavenges instead of 1); 256 KiB ones are large objects, which a
 * scavenge does not copy (2, CPU -6 ms vs 64 KiB); 1 MiB ones are external (1 scavenge, peak RSS
 * +1.9 MiB vs 256 KiB).
 */
const chunkLength = 256 * 1024

/**
 * Reads the payload of the bundle `file` as the build laid it out: the head of the file's last
 * line and its end are checked, then each section is read by its offset, 256 KiB at a time through
 * one buffer (neither the file's 2.3 MiB tail nor its 1.4 MiB of code cache base64 is ever
 * in memory at once: peak RSS). Throws a `BundlePayloadError` naming what does not match when the
 * tail is not this build's payload line (a truncated copy, bytes appended, a file of another build
 * put in its place); the program then never runs. A byte changed inside a section without
 * changing its length is not detected (hashing 2.3 MiB at every call costs more than this layout
 * saves).
 */
export const readBundlePayload = (file: string, layout: BundleLayout): BundlePayload => {
  const head = lineHead(layout)
  const length = tailLength(layout)
  const fd = fs.openSync(file, "r")
  try {
    const size = fs.fstatSync(fd).size
    if (size < length)
      throw new BundlePayloadError(
        `${file} is ${size} bytes, shorter than its payload line (${length} bytes)`
      )
    const start = size - length
    const scratch = Buffer.allocUnsafeSlow(Math.max(chunkLength, head.length))
    readFully(fd, scratch, 1, size - 1)
    const lastByte = scratch[0]
    readFully(fd, scratch, head.length, start)
    if (scratch.toString("latin1", 0, head.length) !== head || lastByte !== 0x0a)
      throw new BundlePayloadError(`${file} does not end with the payload line of build ${layout.id}`)
    let offset = start + head.length
    /** The next `sectionLength` characters, chunk by chunk (chunkLength is a multiple of 4: base64 quanta stay whole). */
    const eachChunk = (sectionLength: number, use: (chunk: string) => void): void => {
      for (let left = sectionLength; left > 0; left -= chunkLength) {
        const n = Math.min(chunkLength, left)
        readFully(fd, scratch, n, offset)
        offset += n
        use(scratch.toString("latin1", 0, n))
      }
    }
    const programChunks: Array<string> = []
    eachChunk(layout.programLength, (chunk) =>
      programChunks.push(layout.newlineEscape === "" ? chunk : chunk.replaceAll(layout.newlineEscape, "\n"))
    )
    const codeCache =
      layout.codeCacheLength === 0 ? undefined : Buffer.allocUnsafeSlow(layout.codeCacheLength)
    let decoded = 0
    eachChunk(layout.codeCacheBase64Length, (chunk) => {
      if (codeCache !== undefined) decoded += codeCache.write(chunk, decoded, "base64")
    })
    checkDecoded(decoded, layout.codeCacheLength, "code cache")
    const addonChunks: Array<string> = []
    eachChunk(layout.addonBase64Length, (chunk) => addonChunks.push(chunk))
    return {
      program: programChunks.join(""),
      codeCache,
      addonBytes: lazyAddon(addonChunks.join(""), layout.addonLength)
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** Characters that may stand for "\n" in the program section: control characters JavaScript text never needs. */
const escapeCandidates = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).filter(
  (c) => c !== "\n" && c !== "\r" && c !== "\t"
)

/**
 * The payload line for the given program text (ASCII, no "\r"), code cache and addon bytes, and
 * its layout; `readBundlePayload` gives back exactly these. The program's newlines become one
 * control character it does not contain, so the whole payload is one line.
 */
export const encodeBundlePayload = (
  parts: {
    readonly program: string
    readonly codeCache: Uint8Array | undefined
    readonly addon: Uint8Array
  },
  idOf: (line: string) => string
): { readonly layout: BundleLayout; readonly line: string } => {
  // latin1 bytes = characters only for ASCII; "\r", U+2028 and U+2029 would end a line comment
  if (Buffer.byteLength(parts.program) !== parts.program.length || parts.program.includes("\r"))
    throw new Error("the program text must be ASCII without carriage returns")
  const newlineEscape = parts.program.includes("\n")
    ? escapeCandidates.find((c) => !parts.program.includes(c))
    : ""
  if (newlineEscape === undefined) throw new Error("the program text uses every control character")
  const program = newlineEscape === "" ? parts.program : parts.program.replaceAll("\n", newlineEscape)
  const codeCache = parts.codeCache === undefined ? "" : Buffer.from(parts.codeCache).toString("base64")
  const addon = Buffer.from(parts.addon).toString("base64")
  const body = program + codeCache + addon
  const id = idOf(body)
  const layout: BundleLayout = {
    id,
    newlineEscape,
    programLength: program.length,
    codeCacheBase64Length: codeCache.length,
    codeCacheLength: parts.codeCache?.length ?? 0,
    addonBase64Length: addon.length,
    addonLength: parts.addon.length
  }
  return { layout, line: `//${marker}${id}:${body}` }
}
