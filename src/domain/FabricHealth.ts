// Port: whether this node's routing daemon is carrying claims to its peers right now.
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** What a health probe found: the safety argument needs propagation, so ADD refuses when unhealthy. */
export interface FabricReport {
  readonly healthy: boolean
  /** Peers (sessions) carrying routes right now, and how many are required. */
  readonly established: number
  readonly required: number
  /** One line for operators: "2 of 3 BGP sessions established (need 2)". */
  readonly detail: string
  /**
   * Changes whenever any session counted here went down, came up or restarted. Two reports with
   * the same epoch, both healthy, mean the fabric stayed whole between them (DESIGN.md
   * "Partitions during the wait"). An adapter that cannot tell gives a constant, and then a
   * partition during the wait cannot be detected.
   */
  readonly epoch: string
}

/** The daemon could not be asked (socket missing, refused, unparsable answer). */
export class FabricHealthError extends Schema.TaggedError<FabricHealthError>()("FabricHealthError", {
  message: Schema.String
}) {}

/**
 * Health of the route-carrying fabric as seen from this node.
 *
 * Gotcha: a failure to ask is not the same as "unhealthy"; callers decide (the plugin treats both as
 * "cannot guarantee propagation").
 */
export class FabricHealth extends Context.Service<
  FabricHealth,
  {
    /** Ask the daemon now. */
    readonly check: Effect.Effect<FabricReport, FabricHealthError>
  }
>()("routetable-ipam/FabricHealth") {}
