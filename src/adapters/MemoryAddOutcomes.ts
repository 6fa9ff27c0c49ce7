// ADD outcome counters in memory: the AddOutcomes port for unit tests and embedding applications.
import * as Effect from "effect/Effect"
import {
  type AddOutcomeCounts,
  type AddOutcomesService,
  noOutcomes,
  sumOutcomes
} from "../domain/AddOutcomes.ts"

/** A fresh store: every network's counters at zero. */
export const make = (): AddOutcomesService => {
  const counts = new Map<string, AddOutcomeCounts>()
  return {
    add: (network, delta) =>
      Effect.sync(() => {
        counts.set(network, sumOutcomes(counts.get(network) ?? noOutcomes, delta))
        return 0
      }),
    fold: () => Effect.void,
    read: (network) => Effect.sync(() => counts.get(network) ?? noOutcomes)
  }
}
