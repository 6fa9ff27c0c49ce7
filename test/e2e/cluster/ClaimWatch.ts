// Watches every node's kernel for claims (insertions of our protocol's routes): attempts and real conflicts.
import { type LabNode, monitorRoutes, type RouteEvent, type RouteMonitor } from "../../support/Lab.ts"

/** One claim the plugin inserted on a node: when the kernel reported it, and for which address. */
export interface Claim {
  readonly node: string
  readonly host: string
  readonly atMicros: number
}

/** Every claim (insert of a route with our protocol) seen per node; `stop` ends the monitors. */
export interface ClaimWatch {
  readonly claims: () => ReadonlyArray<Claim>
  readonly stop: () => Promise<ReadonlyArray<Claim>>
}

/** Our routes as `ip monitor` prints them: protocol 192 ("eigrp" in iproute2's names) on the pod device. */
const ourRoute = /\bproto (?:eigrp|192)\b/

/** The claim in one route event of `node`, if it is an insertion of one of our routes. */
export const claimOf = (node: string, event: RouteEvent): Claim | undefined => {
  if (event.deleted || !ourRoute.test(event.route)) return undefined
  const dst = event.route.split(" ")[0] ?? ""
  return { node, host: dst.replace(/\/(32|128)$/, ""), atMicros: event.atMicros }
}

/** Start one route monitor per node (resolves once all listen). */
export const watchClaims = async (nodes: ReadonlyArray<LabNode>): Promise<ClaimWatch> => {
  const monitors: ReadonlyArray<readonly [string, RouteMonitor]> = await Promise.all(
    nodes.map(async (node) => [node.name, await monitorRoutes(node.netns)] as const)
  )
  const collect = (events: ReadonlyArray<readonly [string, ReadonlyArray<RouteEvent>]>) =>
    events.flatMap(([node, list]) =>
      list.map((event) => claimOf(node, event)).filter((claim) => claim !== undefined)
    )
  return {
    claims: () => collect(monitors.map(([node, monitor]) => [node, monitor.events()] as const)),
    stop: async () =>
      collect(
        await Promise.all(monitors.map(async ([node, monitor]) => [node, await monitor.stop()] as const))
      )
  }
}
