// examples/fabric.ts: the claim protocol on two simulated nodes, safe when W exceeds the delay and not otherwise.
import { assert, describe, it } from "@effect/vitest"
import { claimOnTwoNodes } from "../../examples/fabric.ts"

const seeds = Array.from({ length: 50 }, (_, i) => i + 1)

describe("examples/fabric.ts", () => {
  it("W = 250 ms over 0-200 ms delays: the two nodes never keep the same address (seeds 1-50)", () => {
    for (const seed of seeds) {
      const [a, b] = claimOnTwoNodes(250, "0-200ms", seed)
      assert.notStrictEqual(a, b, `seed ${seed}`)
    }
  })

  it("W = 10 ms over the same delays: some seed ends with one address on both nodes", () => {
    const duplicates = seeds.filter((seed) => {
      const [a, b] = claimOnTwoNodes(10, "0-200ms", seed)
      return a === b
    })
    assert.isAbove(duplicates.length, 0)
  })

  it("the same seed gives the same outcome", () => {
    assert.deepStrictEqual(claimOnTwoNodes(10, "0-200ms", 8), claimOnTwoNodes(10, "0-200ms", 8))
  })
})
