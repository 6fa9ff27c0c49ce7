// Picking a free address: random probes with cheap lookups, then at most one full read of the pool.
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { PoolExhausted } from "./AllocationError.ts"
import type { Ip } from "./Ip.ts"
import {
  countOf,
  describePool,
  freeIntervals,
  type Interval,
  nthAllocatable,
  nthOf,
  type Pool,
  subnetsOf
} from "./Pool.ts"
import { RouteTable, type RouteTableError } from "./RouteTable.ts"

/** A uniformly random bigint in [0, n), from Effect's Random (so simulations replay exactly). */
export const randomBelow = (n: bigint): Effect.Effect<bigint> =>
  n <= 1n
    ? Effect.succeed(0n)
    : n <= 2n ** 52n
      ? Effect.map(Random.nextIntBetween(0, Number(n), { halfOpen: true }), BigInt)
      : Effect.gen(function* () {
          // rejection sampling over 48-bit chunks
          const bits = n.toString(2).length
          for (;;) {
            let value = 0n
            for (let have = 0; have < bits; have += 48) {
              value = (value << 48n) | BigInt(yield* Random.nextIntBetween(0, 2 ** 48, { halfOpen: true }))
            }
            value &= (1n << BigInt(bits)) - 1n
            if (value < n) return value
          }
        })

/**
 * A picker remembers the one full read it may have made, so later attempts of the same
 * allocation do not read the whole table again (unless told to `forget` it).
 */
export interface Picker {
  /** A free address of the pool; PoolExhausted when the table shows none free. */
  readonly pick: Effect.Effect<Ip, PoolExhausted | RouteTableError, RouteTable>
  /** How many full reads of the table this picker made. */
  readonly fullReads: () => number
  /** Forget the full read, so the next pick probes and reads again (the table has changed). */
  readonly forget: () => void
}

/** Make a picker for one allocation from `pool`, probing at most `probes` random addresses per pick. */
export const makePicker = (pool: Pool, probes: number): Picker => {
  let free: Array<Interval> | undefined
  let reads = 0
  const exhausted = () => new PoolExhausted({ pool: describePool(pool) })

  const pick = Effect.gen(function* () {
    const table = yield* RouteTable
    if (pool.size === 0n) return yield* exhausted()
    if (free === undefined) {
      for (let i = 0; i < probes; i++) {
        const candidate = nthAllocatable(pool, yield* randomBelow(pool.size))
        if (!(yield* table.isTaken(candidate))) return candidate
      }
      const routes: Array<Ip> = []
      for (const subnet of subnetsOf(pool)) {
        for (const route of yield* table.hostRoutesIn(subnet)) routes.push(route.host)
      }
      reads++
      free = freeIntervals(pool, routes)
    }
    // after the full read: draw from what was free then; drop draws that a cheap lookup finds
    // taken since (a lost race makes an address free again, so returned ones stay in the set)
    for (;;) {
      const remaining = countOf(free)
      if (remaining === 0n) return yield* exhausted()
      const candidate = nthOf(pool.family, free, yield* randomBelow(remaining))
      if (!(yield* table.isTaken(candidate))) return candidate
      free = freeIntervals({ ...pool, allocatable: free }, [candidate])
    }
  })
  return {
    pick,
    fullReads: () => reads,
    forget: () => {
      free = undefined
    }
  }
}
