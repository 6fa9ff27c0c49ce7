// Renders deploy/bird/bird.conf for one node (fills placeholders, writes the peer sessions, drops IPv6 blocks), or for the DaemonSet to finish per node.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Option from "effect/Option"
import { formatCidr, parseCidr, parseIp } from "../../src/domain/Ip.ts"

/** What differs between nodes and clusters; everything else is fixed in the template. */
export interface BirdConfigOptions {
  /** BGP router id, unique per node (usually the node's IPv4 underlay address). */
  readonly routerId: string
  /** This node's IPv4 address on the underlay: the BGP session source. */
  readonly localAddress: string
  /** This node's global IPv6 address on the underlay: the next hop of its IPv6 claims. */
  readonly localAddress6?: string
  /** IPv4 addresses of every other node (iBGP full mesh). */
  readonly peers: ReadonlyArray<string>
  /** IPv4 pod ranges: host routes inside them are claims. */
  readonly podPrefixes4: ReadonlyArray<string>
  /** IPv6 pod ranges; none (the default) renders an IPv4-only configuration. */
  readonly podPrefixes6?: ReadonlyArray<string>
  /** The plugin's `routeProtocol` (default 192). */
  readonly routeProtocol?: number
  /** The cluster's private AS number (default 64512). */
  readonly localAs?: number
  /** Short BGP connect/retry timers, for test labs (sessions up in ~1 s instead of ~5 s). */
  readonly fastTimers?: boolean
  /**
   * BGP hold time in seconds (3..65535; keepalive a third of it): how long a silent peer keeps
   * its session. BIRD's default is 240; test labs use 3 to time a session out quickly.
   */
  readonly holdTime?: number
  /**
   * Long-lived graceful restart (default true). Without it a session that times out (hold timer)
   * flushes the peer's routes at once, as an administrative shutdown does: test labs turn it off
   * to reproduce that worst case.
   */
  readonly longLivedGracefulRestart?: boolean
  /** Log to this file (all classes); default: syslog, warnings and errors only. */
  readonly logFile?: string
  /**
   * Make this node a route reflector that accepts every node of `range` as a client, so a new node
   * needs no edit of any other node's config: its own `peers` are the reflectors. `peers` of a
   * reflector are the other reflectors (non-clients). Two reflectors share one `clusterId`.
   */
  readonly reflector?: { readonly clientRange: string; readonly clusterId: string }
}

/** The template shipped next to this file. */
export const templatePath = fileURLToPath(new URL("./bird.conf", import.meta.url))

const fastTimers = "  connect delay time 1;\n  connect retry time 5;\n  error wait time 1, 10;"

const address = (text: string, family: 4 | 6, what: string): string => {
  const parsed = parseIp(text)
  if (Option.isNone(parsed) || parsed.value.family !== family) {
    throw new Error(`${what}: "${text}" is not an IPv${family} address`)
  }
  return text
}

const hostSet = (prefixes: ReadonlyArray<string>, family: 4 | 6): string =>
  prefixes
    .map((text) => {
      const cidr = parseCidr(text, { strict: true })
      if (Option.isNone(cidr) || cidr.value.family !== family) {
        throw new Error(`pod prefix: "${text}" is not an IPv${family} prefix (host bits must be zero)`)
      }
      const host = family === 4 ? 32 : 128
      return `${formatCidr(cidr.value)}{${host},${host}}`
    })
    .join(", ")

const withoutIpv6 = (text: string): string => text.replace(/^# BEGIN ipv6\n[\s\S]*?^# END ipv6\n/gm, "")

const withoutMarkers = (text: string): string => text.replace(/^# (BEGIN|END) ipv6\n/gm, "")

const withoutLlgr = (text: string): string => text.replace(/^# BEGIN llgr\n[\s\S]*?^# END llgr\n/gm, "")

const withoutLlgrMarkers = (text: string): string => text.replace(/^# (BEGIN|END) llgr\n/gm, "")

/**
 * The route reflector's dynamic BGP protocol: any node of `clientRange` may connect as a client.
 * `families`: "ipv6" adds the IPv6 channel, "markers" wraps it in `# BEGIN ipv6`/`# END ipv6`
 * (the DaemonSet's render-bird.sh keeps or drops it per node). Clients' claims are reflected
 * (RTS_BGP) besides this node's own; ADD-PATH stays on (from the template), so two claimants of
 * one address both see the conflict (LAB.md section 4).
 */
export const reflectorProtocol = (
  reflector: { readonly clientRange: string; readonly clusterId: string },
  families: "ipv4" | "ipv6" | "markers",
  localAs: string
): string => {
  const channel = (family: 4 | 6) =>
    `  ipv${family} {\n    export where (source = RTS_INHERIT || source = RTS_BGP) && net ~ POD_HOSTS${family};\n  };`
  return [
    "# Route reflector: any node of the range may connect as a client (dynamic BGP); the spawned",
    '# sessions are named client1, client2, ... and the template itself stays "Passive".',
    "protocol bgp clients from mesh {",
    `  neighbor range ${reflector.clientRange} as ${localAs};`,
    '  dynamic name "client";',
    "  rr client;",
    `  rr cluster id ${reflector.clusterId};`,
    channel(4),
    ...(families === "ipv6" ? [channel(6)] : []),
    ...(families === "markers" ? ["# BEGIN ipv6", channel(6), "# END ipv6"] : []),
    "}"
  ].join("\n")
}

/** Render the template for one node; throws on invalid input or a placeholder left unfilled. */
export const renderBirdConfig = (
  options: BirdConfigOptions,
  template = readFileSync(templatePath, "utf8")
) => {
  const routeProtocol = options.routeProtocol ?? 192
  const localAs = options.localAs ?? 64512
  if (!Number.isInteger(routeProtocol) || routeProtocol < 1 || routeProtocol > 255) {
    throw new Error(`route protocol: ${routeProtocol} is not in 1..255`)
  }
  if (!Number.isInteger(localAs) || localAs < 1 || localAs > 4294967295) {
    throw new Error(`AS number: ${localAs} is out of range`)
  }
  if (options.podPrefixes4.length === 0) throw new Error("at least one IPv4 pod prefix is needed")
  const v6 = (options.podPrefixes6 ?? []).length > 0
  if (v6 && options.localAddress6 === undefined) {
    throw new Error("an IPv6 pod prefix needs the node's IPv6 underlay address (localAddress6)")
  }
  const holdTime = options.holdTime
  if (holdTime !== undefined && (!Number.isInteger(holdTime) || holdTime < 3 || holdTime > 65535)) {
    throw new Error(`hold time: ${holdTime} is not in 3..65535 seconds`)
  }
  const timers = [
    ...(options.fastTimers === true ? [fastTimers] : []),
    ...(holdTime === undefined
      ? []
      : [`  hold time ${holdTime};\n  keepalive time ${Math.max(1, Math.floor(holdTime / 3))};`])
  ]
  const peers = options.peers.map((peer, index) => {
    address(peer, 4, "peer")
    return `protocol bgp peer${index + 1} from mesh {\n  neighbor ${peer} as ${localAs};\n}`
  })
  if (options.reflector !== undefined) {
    const range = parseCidr(options.reflector.clientRange)
    if (Option.isNone(range) || range.value.family !== 4)
      throw new Error(`reflector client range: "${options.reflector.clientRange}" is not an IPv4 prefix`)
    address(options.reflector.clusterId, 4, "reflector cluster id")
    peers.push(reflectorProtocol(options.reflector, v6 ? "ipv6" : "ipv4", String(localAs)))
  }
  const values: Record<string, string> = {
    LOG:
      options.logFile === undefined
        ? "log syslog { warning, error, fatal, bug };"
        : `log "${options.logFile}" all;`,
    ROUTER_ID: address(options.routerId, 4, "router id"),
    ROUTE_PROTOCOL: String(routeProtocol),
    POD_HOSTS4: hostSet(options.podPrefixes4, 4),
    POD_HOSTS6: v6 ? hostSet(options.podPrefixes6 ?? [], 6) : "",
    LOCAL_ADDRESS: address(options.localAddress, 4, "local address"),
    LOCAL_ADDRESS6: v6 ? address(options.localAddress6 ?? "", 6, "local IPv6 address") : "",
    LOCAL_AS: String(localAs),
    BGP_TIMERS: timers.length === 0 ? "  # default BGP timers" : timers.join("\n"),
    PEERS: peers.join("\n")
  }
  const families = v6 ? withoutMarkers(template) : withoutIpv6(template)
  return fill(
    options.longLivedGracefulRestart === false ? withoutLlgr(families) : withoutLlgrMarkers(families),
    values
  )
}

const fill = (template: string, values: Readonly<Record<string, string>>): string => {
  const rendered = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (whole, name: string) => values[name] ?? whole)
  const left = rendered.match(/\{\{[A-Z0-9_]+\}\}/)
  if (left !== null) throw new Error(`template placeholder ${left[0]} has no value`)
  return rendered
}

/** What the DaemonSet's render-bird.sh fills in per node (deploy/kubernetes/daemonset.yaml). */
export const daemonSetPlaceholders = {
  nodeAddress: "@NODE_IP@",
  nodeAddress6: "@NODE_IP6@",
  clientRange: "@CLIENT_RANGE@",
  clusterId: "@CLUSTER_ID@"
} as const

/** The cluster-wide settings of the DaemonSet's BIRD configuration (the same on every node). */
export interface DaemonSetBirdOptions {
  readonly podPrefixes4: ReadonlyArray<string>
  readonly podPrefixes6: ReadonlyArray<string>
  readonly routeProtocol?: number
  readonly localAs?: number
}

/**
 * The DaemonSet's ConfigMap entries `bird.conf` and `bird-reflector.conf`: the template rendered
 * with the cluster's settings, the node's addresses left as placeholders, IPv6 blocks kept between
 * their markers (render-bird.sh drops them on a node without an IPv6 address), no sessions (the
 * script appends them: a client peers with the reflectors; a reflector appends `reflector`, its
 * dynamic protocol for clients, and peers with the other reflector). Logs go to stderr.
 */
export const renderDaemonSetBird = (
  options: DaemonSetBirdOptions,
  template = readFileSync(templatePath, "utf8")
): { readonly config: string; readonly reflector: string } => {
  if (options.podPrefixes6.length === 0) throw new Error("at least one IPv6 pod prefix is needed")
  // the cluster settings are checked exactly as for one node (documentation addresses stand in)
  renderBirdConfig(
    { routerId: "192.0.2.1", localAddress: "192.0.2.1", localAddress6: "2001:db8::1", peers: [], ...options },
    template
  )
  const { nodeAddress, nodeAddress6, clientRange, clusterId } = daemonSetPlaceholders
  const localAs = String(options.localAs ?? 64512)
  const values: Record<string, string> = {
    LOG: "log stderr { warning, error, fatal, bug };",
    ROUTER_ID: nodeAddress,
    ROUTE_PROTOCOL: String(options.routeProtocol ?? 192),
    POD_HOSTS4: hostSet(options.podPrefixes4, 4),
    POD_HOSTS6: hostSet(options.podPrefixes6, 6),
    LOCAL_ADDRESS: nodeAddress,
    LOCAL_ADDRESS6: nodeAddress6,
    LOCAL_AS: localAs,
    BGP_TIMERS: "  # default BGP timers",
    PEERS: "# (render-bird.sh appends this node's sessions here)"
  }
  return {
    config: fill(withoutLlgrMarkers(template), values),
    reflector: `${reflectorProtocol({ clientRange, clusterId }, "markers", localAs)}\n`
  }
}

const usage = `Usage: node deploy/bird/render.ts --router-id IP --address IP [--address6 IP6]
    --peer IP [--peer IP ...] --pods CIDR [--pods CIDR ...] [--pods6 CIDR6 ...]
    [--protocol 192] [--as 64512] [--fast-timers] [--hold-time 240] [--log FILE]
    [--reflect CLIENT-RANGE --cluster-id IP] > /etc/bird/bird.conf

Full mesh: --peer every other node. Route reflectors (adding a node edits no other node's config):
a reflector gets --reflect 198.18.0.0/24 --cluster-id ID and --peer the other reflector; every
other node gets --peer each reflector (and nothing else).`

const main = (argv: ReadonlyArray<string>): void => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      "router-id": { type: "string" },
      address: { type: "string" },
      address6: { type: "string" },
      peer: { type: "string", multiple: true },
      pods: { type: "string", multiple: true },
      pods6: { type: "string", multiple: true },
      protocol: { type: "string" },
      as: { type: "string" },
      "fast-timers": { type: "boolean" },
      "hold-time": { type: "string" },
      log: { type: "string" },
      reflect: { type: "string" },
      "cluster-id": { type: "string" },
      help: { type: "boolean" }
    }
  })
  if (values.help === true || values.address === undefined) {
    console.log(usage)
    process.exitCode = values.help === true ? 0 : 2
    return
  }
  const options: BirdConfigOptions = {
    routerId: values["router-id"] ?? values.address,
    localAddress: values.address,
    peers: values.peer ?? [],
    podPrefixes4: values.pods ?? [],
    podPrefixes6: values.pods6 ?? [],
    fastTimers: values["fast-timers"] === true,
    ...(values.address6 === undefined ? {} : { localAddress6: values.address6 }),
    ...(values.protocol === undefined ? {} : { routeProtocol: Number(values.protocol) }),
    ...(values.as === undefined ? {} : { localAs: Number(values.as) }),
    ...(values["hold-time"] === undefined ? {} : { holdTime: Number(values["hold-time"]) }),
    ...(values.log === undefined ? {} : { logFile: values.log }),
    ...(values.reflect === undefined
      ? {}
      : { reflector: { clientRange: values.reflect, clusterId: values["cluster-id"] ?? values.address } })
  }
  process.stdout.write(renderBirdConfig(options))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2))
  } catch (error) {
    console.error(`render: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 2
  }
}
