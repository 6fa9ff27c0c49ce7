// A multi-node cluster on one machine for e2e tests: namespaces on a bridge, one BIRD per node (root only).
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { setTimeout as sleep } from "node:timers/promises"
import {
  down,
  type Lab,
  type LabNode,
  type LabOptions,
  type LabRoute,
  up
} from "../../scripts/lab/Cluster.ts"

export type { Lab, LabNode, LabOptions, LabRoute }
export type { CommandOptions, CommandResult } from "../../scripts/lab/Command.ts"
export { measurePropagation, type PropagationReport } from "../../scripts/lab/Propagation.ts"
export { monitorRoutes, type RouteEvent, type RouteMonitor } from "../../scripts/lab/RouteMonitor.ts"
export { runsPresent } from "../../scripts/lab/Namespaces.ts"
export { isAlive, readPid } from "../../scripts/lab/BirdProcess.ts"

/**
 * Build a lab of `nodes` nodes (1..8): switch namespace "<prefix>sw" with a bridge; per node a
 * namespace "<prefix>n<N>" with eth0 = 198.18.0.N/24 (+ fd00:198:18::N/64 unless `v6: false`),
 * a veth pair pods0/pods0p for pod routes, and a BIRD rendered from deploy/bird/bird.conf.
 * Resolves once every BGP session is Established; call `down()` when done (or use `scoped`).
 */
export { up }

/** Tear down a lab by prefix ("rtl<4 hex>-"), e.g. one a crashed test left behind. */
export { down }

/** The lab failed to come up. */
export class LabError extends Data.TaggedError("LabError")<{ readonly cause: unknown }> {}

/** `up` as a scoped resource: torn down when the scope closes (`it.effect` provides a Scope). */
export const scoped = (options: LabOptions): Effect.Effect<Lab, LabError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => up(options), catch: (cause) => new LabError({ cause }) }),
    (lab) => Effect.promise(() => lab.down())
  )

/**
 * Poll a node's routes under `root` (every 10 ms) until `accept` holds; resolves with those routes,
 * or with the last routes seen once `timeoutMs` has passed (the caller asserts on them).
 */
export const waitForRoutes = async (
  node: LabNode,
  family: 4 | 6,
  root: string,
  accept: (routes: ReadonlyArray<LabRoute>) => boolean,
  timeoutMs = 2_000
): Promise<ReadonlyArray<LabRoute>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const routes = await node.routes(family, root)
    if (accept(routes) || Date.now() > deadline) return routes
    await sleep(10)
  }
}

/** BIRD's route protocol number (`proto bird`). */
export const birdProtocol = 12

/** Cut / restore the BGP session between two nodes (iptables in one namespace), `birdc disable|enable`. */
export { blockBgp, protocolTowards, setSession, unblockBgp } from "../../scripts/lab/SessionBlock.ts"
