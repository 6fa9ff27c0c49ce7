// CNI_ARGS ("K=V;K=V"): the keys this plugin knows, IgnoreUnknown, and the original plugin's keys.
import { CniCode, type CniError, cniError } from "./CniError.ts"

/** What CNI_ARGS said, for the keys the plugin uses. */
export interface CniArgs {
  /** IP=: requested addresses (comma-separated, each may carry a /prefix). Deprecated in favour of args.cni.ips. */
  readonly ip?: string
  /** The original plugin's interface (used when the config has no ranges): CIDR, EXCLUDE_FIRST, EXCLUDE_LAST, LINK_INDEX. */
  readonly cidr?: string
  readonly excludeFirst?: number
  readonly excludeLast?: number
  readonly linkIndex?: number
  /**
   * K8S_POD_NAMESPACE / K8S_POD_NAME: the pod the container belongs to, for logs and `list`.
   * Kubernetes runtimes (containerd, CRI-O) send both; podman's CNI backend sends K8S_POD_NAME
   * alone (the container's name). Empty values count as absent.
   */
  readonly podNamespace?: string
  readonly podName?: string
}

/**
 * Keys accepted without IgnoreUnknown: ours, the original plugin's, and those runtimes commonly pass
 * (Kubernetes' K8S_POD_*; libcni's IgnoreUnknown itself).
 */
export const knownArgs: ReadonlyArray<string> = [
  "IgnoreUnknown",
  "IP",
  "CIDR",
  "EXCLUDE_FIRST",
  "EXCLUDE_LAST",
  "LINK_INDEX",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID"
]

const invalid = (msg: string): CniError => cniError(CniCode.invalidEnvironment, `CNI_ARGS: ${msg}`)

const parseBool = (key: string, value: string): boolean | CniError => {
  const lower = value.toLowerCase()
  if (lower === "1" || lower === "true") return true
  if (lower === "0" || lower === "false") return false
  return invalid(`${key}=${value}: expected 1, true, 0 or false`)
}

const parseCount = (key: string, value: string, minimum: number): number | CniError => {
  if (!/^-?\d{1,10}$/.test(value) || Number(value) < minimum) {
    return invalid(`${key}=${value}: expected a whole number >= ${minimum}`)
  }
  return Number(value)
}

/**
 * Parse CNI_ARGS as libcni's types.LoadArgs does: `;`-separated `KEY=VALUE` pairs (empty segments
 * skipped); a pair without exactly one `=` is invalid; an unknown key is refused unless
 * `IgnoreUnknown` is 1/true. Failures are code 4 (an invalid environment variable), naming CNI_ARGS
 * and the pair.
 */
export const parseCniArgs = (text: string): CniArgs | CniError => {
  const pairs: Array<readonly [string, string]> = []
  for (const segment of text.split(";")) {
    if (segment === "") continue
    const parts = segment.split("=")
    if (parts.length !== 2 || parts[0] === "")
      return invalid(`invalid pair ${JSON.stringify(segment)}; expected KEY=VALUE`)
    pairs.push([parts[0]!, parts[1]!])
  }
  let ignoreUnknown = false
  for (const [key, value] of pairs) {
    if (key !== "IgnoreUnknown") continue
    const parsed = parseBool(key, value)
    if (parsed instanceof Error) return parsed
    ignoreUnknown = parsed
  }
  const unknown = pairs.filter(([key]) => !knownArgs.includes(key)).map(([key, value]) => `${key}=${value}`)
  if (unknown.length > 0 && !ignoreUnknown) {
    return invalid(`unknown args ${unknown.join(", ")} (set IgnoreUnknown=1 to ignore them)`)
  }
  const args: { -readonly [K in keyof CniArgs]: CniArgs[K] } = {}
  for (const [key, value] of pairs) {
    switch (key) {
      case "IP":
        args.ip = value
        break
      case "CIDR":
        args.cidr = value
        break
      case "EXCLUDE_FIRST":
      case "EXCLUDE_LAST":
      case "LINK_INDEX": {
        // the original accepted LINK_INDEX=-1 (its "none")
        const parsed = parseCount(key, value, key === "LINK_INDEX" ? -1 : 0)
        if (parsed instanceof Error) return parsed
        if (key === "EXCLUDE_FIRST") args.excludeFirst = parsed
        else if (key === "EXCLUDE_LAST") args.excludeLast = parsed
        else args.linkIndex = parsed
        break
      }
      case "K8S_POD_NAMESPACE":
        if (value !== "") args.podNamespace = value
        break
      case "K8S_POD_NAME":
        if (value !== "") args.podName = value
        break
    }
  }
  return args
}
