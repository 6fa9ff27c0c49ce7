// Two simulated nodes claim from one pool at the same instant, in virtual time: the claim protocol against the fabric.
//
//   node examples/fabric.ts                # W = 250 ms, delays 0-200 ms: always two different addresses
//   node examples/fabric.ts 10ms 0-200ms   # W below the delay: the same address can end up on both nodes
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
// In an application these are "routetable-ipam" and "routetable-ipam/testing".
import { Claim, ClaimPolicy, Ip, Pool, RouteTable } from "../src/index.ts"
import { DelayDistribution, Fabric, VirtualTime } from "../src/testing.ts"

/**
 * Nodes 0 and 1 each claim one address of a two-address pool at t = 0, with propagation timeout
 * `waitMs`, over a fabric whose messages take `delay` (e.g. "0-200ms"). Returns what each node kept.
 * Runs in virtual time: no real waiting, and the same seed always gives the same outcome.
 */
export const claimOnTwoNodes = (waitMs: number, delay: string, seed: number): ReadonlyArray<string> => {
  const pool = Pool.makePool("pods", [{ subnet: "100.64.0.0/30" }])
  if (pool instanceof Pool.InvalidPool) throw new Error(pool.message)
  const distribution = DelayDistribution.parseDelay(delay)
  if (distribution instanceof DelayDistribution.InvalidDelay) throw new Error(distribution.message)
  const fabric = Fabric.makeFabric({ nodes: 2, delay: distribution, seed })
  const policy = { ...ClaimPolicy.defaultClaimPolicy, propagationTimeout: Duration.millis(waitMs) }
  const claimOn = (node: number) =>
    Claim.claimAddress(pool, undefined, policy).pipe(
      Effect.provideService(RouteTable, fabric.routeTableOf(node)),
      Effect.map(Ip.formatIp)
    )
  const exit = new VirtualTime.VirtualTime().run(
    Effect.all([claimOn(0), claimOn(1)], { concurrency: "unbounded" }).pipe(Random.withSeed(seed))
  )
  if (Exit.isFailure(exit)) throw new Error(`simulation failed: ${String(exit.cause)}`)
  return exit.value
}

if (import.meta.main) {
  const [wait = "250ms", delay = "0-200ms", seed = "1"] = process.argv.slice(2)
  const waitMs = DelayDistribution.parseDurationMs(wait)
  if (waitMs === undefined) throw new Error(`not a duration: ${wait}`)
  const kept = claimOnTwoNodes(waitMs, delay, Number(seed))
  console.log(
    `node 0: ${kept[0]}, node 1: ${kept[1]}${kept[0] === kept[1] ? "  <- the same address twice" : ""}`
  )
}
