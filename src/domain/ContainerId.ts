// Validation of the CNI identifiers an attachment is keyed by: container ID, interface name, network name.
import * as Schema from "effect/Schema"
import type { AttachmentKey } from "./Attachments.ts"

/** An identifier from CNI input is not valid; `field` names it ("containerId", "ifname", "network"). */
export class InvalidIdentifier extends Schema.TaggedError<InvalidIdentifier>()("InvalidIdentifier", {
  field: Schema.String,
  message: Schema.String
}) {}

/** The CNI spec's pattern for container IDs and network names (libcni's ValidateContainerID/NetworkName). */
const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/**
 * Longest container ID accepted. The spec sets no limit; runtimes use 64 hex digits. The cap
 * only keeps absurd input out (a store may set a tighter one, e.g. a file name limit).
 */
export const maxContainerIdLength = 1024

/** Longest network name accepted: it must fit in one file name (NAME_MAX, 255 bytes). */
export const maxNetworkNameLength = 255

/** Longest interface name in bytes (Linux IFNAMSIZ 16, minus the terminating NUL). */
export const maxIfnameBytes = 15

/** Whitespace as Go's unicode.IsSpace (libcni) and the kernel's isspace see it, plus NUL and lone surrogates. */
const ifnameForbidden = /[/:\s\u0085\0]|[\uD800-\uDFFF]/u

const utf8Length = (text: string): number => {
  let bytes = 0
  for (const char of text) {
    const code = char.codePointAt(0)!
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4
  }
  return bytes
}

const checkName = (field: string, text: string, maxLength: number): InvalidIdentifier | undefined => {
  if (text.length === 0) return new InvalidIdentifier({ field, message: "must not be empty" })
  if (text.length > maxLength) {
    return new InvalidIdentifier({ field, message: `longer than ${maxLength} characters` })
  }
  if (!namePattern.test(text)) {
    return new InvalidIdentifier({
      field,
      message: `${JSON.stringify(text)} must start with a letter or digit and contain only letters, digits, '_', '.' and '-'`
    })
  }
  return undefined
}

/** The problem with a container ID (CNI_CONTAINERID), if any: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`, 1..1024 chars. */
export const checkContainerId = (text: string): InvalidIdentifier | undefined =>
  checkName("containerId", text, maxContainerIdLength)

/** The problem with a network name (the config's `name`), if any: same pattern, 1..255 chars. */
export const checkNetworkName = (text: string): InvalidIdentifier | undefined =>
  checkName("network", text, maxNetworkNameLength)

/**
 * The problem with an interface name (CNI_IFNAME), if any: 1..15 bytes, not "." or "..",
 * no '/', ':', whitespace or NUL (as libcni's ValidateInterfaceName and the kernel's dev_valid_name),
 * and no U+FFFD (the environment held bytes that are not UTF-8).
 */
export const checkIfname = (text: string): InvalidIdentifier | undefined => {
  const field = "ifname"
  if (text.length === 0) return new InvalidIdentifier({ field, message: "must not be empty" })
  if (text === "." || text === "..") {
    return new InvalidIdentifier({ field, message: `${JSON.stringify(text)} is not a valid interface name` })
  }
  if (text.includes("\uFFFD")) {
    // what a decoder makes of bytes that are not UTF-8: two different names could share one record
    return new InvalidIdentifier({
      field,
      message: `${JSON.stringify(text)} is not valid UTF-8 (or contains U+FFFD)`
    })
  }
  if (ifnameForbidden.test(text)) {
    return new InvalidIdentifier({
      field,
      message: `${JSON.stringify(text)} must not contain '/', ':', whitespace or NUL`
    })
  }
  if (utf8Length(text) > maxIfnameBytes) {
    return new InvalidIdentifier({
      field,
      message: `${JSON.stringify(text)} is longer than ${maxIfnameBytes} bytes`
    })
  }
  return undefined
}

/** The first problem with an attachment key, checking network, then container ID, then interface name. */
export const checkAttachmentKey = (key: AttachmentKey): InvalidIdentifier | undefined =>
  checkNetworkName(key.network) ?? checkContainerId(key.containerId) ?? checkIfname(key.ifname)
