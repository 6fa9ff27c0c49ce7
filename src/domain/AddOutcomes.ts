// Port: counters of ADD outcomes per network, kept beyond the life of one short-lived plugin run.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/**
 * How ADDs of one network ended on this node, since the counters were created:
 * - won: ADDs that succeeded;
 * - lostRaces: claim attempts another node (or the fabric) took from us (lost, tie-break lost,
 *   vanished, partitioned during the wait); each retry counts, so one ADD may add several;
 * - exhausted: ADDs refused with code 100 (no free address in a pool);
 * - tryAgainLater: ADDs refused with code 11 (every attempt lost a race, or the fabric is unhealthy);
 * - refused: ADDs refused with any other code after the config was decoded (101, 102, 7, ...).
 */
export interface AddOutcomeCounts {
  readonly won: number
  readonly lostRaces: number
  readonly refused: number
  readonly exhausted: number
  readonly tryAgainLater: number
}

/** Every counter at zero. */
export const noOutcomes: AddOutcomeCounts = {
  won: 0,
  lostRaces: 0,
  refused: 0,
  exhausted: 0,
  tryAgainLater: 0
}

/** `a + b`, counter by counter. */
export const sumOutcomes = (a: AddOutcomeCounts, b: Partial<AddOutcomeCounts>): AddOutcomeCounts => ({
  won: a.won + (b.won ?? 0),
  lostRaces: a.lostRaces + (b.lostRaces ?? 0),
  refused: a.refused + (b.refused ?? 0),
  exhausted: a.exhausted + (b.exhausted ?? 0),
  tryAgainLater: a.tryAgainLater + (b.tryAgainLater ?? 0)
})

/** The counters store of one node. */
export interface AddOutcomesService {
  /**
   * Add `delta` to the network's counters. Never fails: counting must not change the outcome of
   * an ADD (an unwritable store loses the count). Needs no lock: concurrent adds never lose each
   * other's counts. Answers how many added deltas wait to be folded (0 for a store that folds as
   * it adds); the caller folds when that grows large.
   */
  readonly add: (network: string, delta: Partial<AddOutcomeCounts>) => Effect.Effect<number>
  /** Fold the deltas added so far into the network's total. Never fails. Callers hold the network's NodeLock. */
  readonly fold: (network: string) => Effect.Effect<void>
  /** The network's counters (all zero when none were written). */
  readonly read: (network: string) => Effect.Effect<AddOutcomeCounts>
}

/** Counters kept nowhere (the default): for embedding applications that do not want them. */
export const uncounted: AddOutcomesService = {
  add: () => Effect.succeed(0),
  fold: () => Effect.void,
  read: () => Effect.succeed(noOutcomes)
}

/** Where ADD outcomes are counted; defaults to nowhere. */
export const AddOutcomes: Context.Reference<AddOutcomesService> = Context.Reference<AddOutcomesService>(
  "routetable-ipam/AddOutcomes",
  { defaultValue: () => uncounted }
)
