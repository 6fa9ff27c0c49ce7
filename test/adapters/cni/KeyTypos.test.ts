// Tests of the typo check of ipam keys: edit distance, which keys are near misses, which are ignored.
import { assert, describe, it } from "@effect/vitest"
import { editDistance, misspeltIpamKey, typoOf } from "../../../src/adapters/cni/KeyTypos.ts"

describe("KeyTypos", () => {
  it("editDistance - inserts, deletes, substitutions and neighbour swaps cost 1; capped at max + 1", () => {
    assert.strictEqual(editDistance("table", "table"), 0)
    assert.strictEqual(editDistance("tabel", "table"), 1)
    assert.strictEqual(editDistance("propagationtimout", "propagationtimeout"), 1)
    assert.strictEqual(editDistance("ranges", "rangess"), 1)
    assert.strictEqual(editDistance("metrci", "metric"), 1)
    assert.strictEqual(editDistance("mtrc", "metric"), 2)
    assert.strictEqual(editDistance("abcdef", "badcfe"), 3)
    assert.strictEqual(editDistance("x", "propagationTimeout"), 3)
    assert.strictEqual(editDistance("abcdef", "ghijkl", 10), 6)
  })

  it("typoOf - case-insensitive near misses of known keys, at least 4 characters", () => {
    const known = ["propagationTimeout", "table", "dns", "log"]
    assert.strictEqual(typoOf("propagationTimout", known), "propagationTimeout")
    assert.strictEqual(typoOf("PROPAGATIONTIMEOUT", known), "propagationTimeout")
    assert.strictEqual(typoOf("tabel", known), "table")
    assert.isUndefined(typoOf("table", known))
    assert.isUndefined(typoOf("tbl", known), "too short to judge")
    assert.isUndefined(typoOf("capabilities", known))
    assert.isUndefined(typoOf("myOwnKey", known))
  })

  it("misspeltIpamKey - the ipam object and its range entries; nothing else", () => {
    assert.strictEqual(
      misspeltIpamKey({ propagationTimout: "5s" }),
      "ipam.propagationTimout: unknown key; did you mean propagationTimeout?"
    )
    assert.strictEqual(
      misspeltIpamKey({ ranges: [[{ subnet: "100.64.0.0/24" }, { subnet: "x", rangStart: "y" }]] }),
      "ipam.ranges[0][1].rangStart: unknown key; did you mean rangeStart?"
    )
    assert.isUndefined(misspeltIpamKey({ ranges: [[{ subnet: "100.64.0.0/24", comment: "x" }]], foo: 1 }))
    assert.isUndefined(misspeltIpamKey({ resolvConf: "/etc/resolv.conf", type: "routetable-ipam" }))
    assert.isUndefined(misspeltIpamKey(undefined))
    assert.isUndefined(misspeltIpamKey({ ranges: "not an array" }))
  })
})
