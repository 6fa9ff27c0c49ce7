// Fabric health for setups without a routing daemon we can ask: always healthy, never checked.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { FabricHealth, type FabricReport } from "../domain/FabricHealth.ts"

/**
 * The report every check gives: healthy, zero sessions required, one constant epoch. With it a
 * BGP session that drops while two nodes wait on one address cannot be detected: its withdrawn
 * routes look like released claims (DESIGN.md "Partitions during the wait").
 */
export const report: FabricReport = {
  healthy: true,
  established: 0,
  required: 0,
  detail: "fabric health not checked",
  epoch: "unchecked"
}

/** FabricHealth that asks nobody and always reports healthy (a partition during the wait goes unseen). */
export const layer: Layer.Layer<FabricHealth> = Layer.succeed(
  FabricHealth,
  FabricHealth.of({ check: Effect.succeed(report) })
)
