// One lab node as tests see it: its namespace, addresses, BIRD files, and commands run inside it.
import { join } from "node:path"
import { bgpSessions, type BgpSession } from "./BirdProcess.ts"
import { type CommandOptions, type CommandResult, run, runChecked } from "./Command.ts"
import { nodeName } from "./Namespaces.ts"

/** One route as `ip -j -N route` prints it (protocol as a number: 192 ours, 12 BIRD's). */
export interface LabRoute {
  readonly dst: string
  readonly protocol: number
  readonly metric: number | undefined
  readonly gateway: string | undefined
  readonly dev: string | undefined
}

/** One node: a network namespace with underlay address(es), a `pods0` veth and a BIRD. */
export interface LabNode {
  /** "n1", "n2", ... */
  readonly name: string
  /** The network namespace (`ip netns exec <netns> ...`). */
  readonly netns: string
  /** 198.18.0.<number>. */
  readonly address: string
  /** fd00:198:18::<number>, or undefined in an IPv4-only lab. */
  readonly address6: string | undefined
  readonly birdConfig: string
  readonly birdSocket: string
  readonly birdPidFile: string
  readonly birdLog: string
  /** Run a command inside this node's namespace; resolves with its exit code and output. */
  readonly exec: (
    command: string,
    args: ReadonlyArray<string>,
    options?: CommandOptions
  ) => Promise<CommandResult>
  /** Routes of this node's main table (`ip -j -N route show [root <prefix>]`). */
  readonly routes: (family: 4 | 6, root?: string) => Promise<ReadonlyArray<LabRoute>>
  /** This node's BGP sessions as BIRD reports them (empty when BIRD is down). */
  readonly sessions: () => Promise<ReadonlyArray<BgpSession>>
}

const parseRoutes = (json: string): ReadonlyArray<LabRoute> =>
  (JSON.parse(json === "" ? "[]" : json) as ReadonlyArray<Record<string, unknown>>).map((route) => ({
    dst: String(route.dst),
    protocol: Number(route.protocol ?? 0),
    metric: typeof route.metric === "number" ? route.metric : undefined,
    gateway: typeof route.gateway === "string" ? route.gateway : undefined,
    dev: typeof route.dev === "string" ? route.dev : undefined
  }))

/** Describe node `number` (1-based) of the run with this prefix; builds nothing. */
export const makeNode = (prefix: string, dir: string, number: number, v6: boolean): LabNode => {
  const netns = nodeName(prefix, number)
  const files = join(dir, `n${number}`)
  const exec = (command: string, args: ReadonlyArray<string>, options: CommandOptions = {}) =>
    run("ip", ["netns", "exec", netns, command, ...args], options)
  return {
    name: `n${number}`,
    netns,
    address: `198.18.0.${number}`,
    address6: v6 ? `fd00:198:18::${number}` : undefined,
    birdConfig: join(files, "bird.conf"),
    birdSocket: join(files, "bird.ctl"),
    birdPidFile: join(files, "bird.pid"),
    birdLog: join(files, "bird.log"),
    exec,
    routes: async (family, root) => {
      const selector = root === undefined ? [] : ["root", root]
      return parseRoutes(
        await runChecked("ip", ["-n", netns, "-j", "-N", `-${family}`, "route", "show", ...selector])
      )
    },
    sessions: () => bgpSessions(join(files, "bird.ctl"))
  }
}
