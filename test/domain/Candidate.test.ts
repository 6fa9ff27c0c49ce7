// Picking a free address: terminates, never returns a taken or unallocatable address, exhausted exactly when none is free.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as fc from "fast-check"
import * as MemoryRouteTable from "../../src/adapters/MemoryRouteTable.ts"
import { makePicker } from "../../src/domain/Candidate.ts"
import { ip, keyOf } from "../../src/domain/Ip.ts"
import { InvalidPool, isAllocatable, makePool, nthAllocatable } from "../../src/domain/Pool.ts"
import { RouteTable } from "../../src/domain/RouteTable.ts"

describe("Candidate", () => {
  it("makePicker - picks a free allocatable address iff one exists, with at most one full read", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 24, max: 32 }), // prefix length of a small IPv4 subnet
        fc.array(fc.nat(), { maxLength: 300 }), // taken addresses, as offsets into the subnet
        fc.integer({ min: 0, max: 16 }), // probes before the full read
        fc.integer(), // seed of Effect's Random
        (length, offsets, probes, seed) => {
          const pool = makePool("r", [{ subnet: `100.64.0.0/${length}` }], { exclude: ["100.64.0.7"] })
          if (pool instanceof InvalidPool) throw new Error(pool.message)
          const size = 2 ** (32 - length)
          const taken = new Set(offsets.map((o) => keyOf(ip(4, 0x64400000n + BigInt(o % size)))))
          let free = 0
          for (let i = 0n; i < pool.size; i++) if (!taken.has(keyOf(nthAllocatable(pool, i)))) free++
          const program = Effect.gen(function* () {
            const node = yield* MemoryRouteTable.make()
            for (const key of taken) {
              const value = BigInt(`0x${key.slice(2)}`)
              yield* node.addOther({ host: ip(4, value), nextHop: ip(4, 0xc6120002n) })
            }
            const picker = makePicker(pool, probes)
            const exit = yield* Effect.exit(picker.pick.pipe(Effect.provideService(RouteTable, node.table)))
            return { exit, reads: picker.fullReads() }
          }).pipe(Random.withSeed(seed))
          const { exit, reads } = Effect.runSync(program)
          assert.isAtMost(reads, 1)
          if (free === 0) {
            assert.isTrue(Exit.isFailure(exit), "exhausted when nothing is free")
          } else {
            assert.isTrue(Exit.isSuccess(exit), `${free} free addresses, but: ${String(exit)}`)
            const address = (exit as Exit.Success<ReturnType<typeof ip>>).value
            assert.isTrue(isAllocatable(pool, address))
            assert.isFalse(taken.has(keyOf(address)), "never a taken address")
          }
        }
      ),
      { seed: 4242, numRuns: 300 }
    )
  })
})
