// Tests of the CNI identifier validators.
import { assert, describe, it } from "@effect/vitest"
import {
  checkAttachmentKey,
  checkContainerId,
  checkIfname,
  checkNetworkName,
  InvalidIdentifier,
  maxContainerIdLength
} from "../../src/domain/ContainerId.ts"

const assertInvalid = (problem: InvalidIdentifier | undefined, field: string, label: string) => {
  assert.instanceOf(problem, InvalidIdentifier, label)
  assert.strictEqual(problem?.field, field, label)
  assert.strictEqual(problem?._tag, "InvalidIdentifier")
}

describe("ContainerId", () => {
  it("checkContainerId - accepts runtime IDs and the spec's alphabet", () => {
    for (const id of [
      "a",
      "0",
      "3f4c2a9b".repeat(8),
      "pod-1_x.y",
      "A.b-C_9",
      "x".repeat(maxContainerIdLength)
    ]) {
      assert.isUndefined(checkContainerId(id), id)
    }
  })

  it("checkContainerId - rejects empty, bad first character, other characters, too long", () => {
    const bad = [
      "",
      "-a",
      ".a",
      "_a",
      "..",
      "../x",
      "a/b",
      "a b",
      "a\0b",
      "a:b",
      "a@b",
      "é",
      "x".repeat(maxContainerIdLength + 1)
    ]
    for (const id of bad) assertInvalid(checkContainerId(id), "containerId", JSON.stringify(id))
    assert.include(checkContainerId("")!.message, "empty")
    assert.include(checkContainerId("x".repeat(maxContainerIdLength + 1))!.message, "longer than 1024")
  })

  it("checkNetworkName - same pattern as container IDs, at most 255 characters", () => {
    for (const name of ["pods", "k8s-pod-network", "net.1_a", "n".repeat(255)])
      assert.isUndefined(checkNetworkName(name), name)
    for (const name of ["", ".", "..", "../etc", "a/b", "-net", "a b", "n".repeat(256)]) {
      assertInvalid(checkNetworkName(name), "network", JSON.stringify(name))
    }
  })

  it("checkIfname - accepts kernel-valid names up to 15 bytes", () => {
    for (const name of ["eth0", "net1", "a", "...", ".hidden", "x".repeat(15), "veth-é", "a@b", "ab_c.d-e"]) {
      assert.isUndefined(checkIfname(name), name)
    }
  })

  it("checkIfname - rejects empty, . and .., '/', ':', whitespace, NUL, more than 15 bytes", () => {
    const bad = [
      "",
      ".",
      "..",
      "a/b",
      "/",
      "eth0:1",
      "a b",
      "a\tb",
      "a\nb",
      "a\u00a0b",
      "a\u0085b",
      "a\0b",
      "x".repeat(16)
    ]
    for (const name of bad) assertInvalid(checkIfname(name), "ifname", JSON.stringify(name))
    // 8 two-byte characters are 16 bytes although only 8 UTF-16 units
    assertInvalid(checkIfname("é".repeat(8)), "ifname", "16 bytes")
    assert.isUndefined(checkIfname("é".repeat(7)))
    assertInvalid(checkIfname("a\uD800"), "ifname", "lone surrogate")
  })

  it("checkAttachmentKey - names the first offending field", () => {
    assert.isUndefined(checkAttachmentKey({ network: "pods", containerId: "c1", ifname: "eth0" }))
    assertInvalid(
      checkAttachmentKey({ network: "../x", containerId: "c1", ifname: "eth0" }),
      "network",
      "network"
    )
    assertInvalid(
      checkAttachmentKey({ network: "pods", containerId: "a/b", ifname: "eth0" }),
      "containerId",
      "id"
    )
    assertInvalid(
      checkAttachmentKey({ network: "pods", containerId: "c1", ifname: ".." }),
      "ifname",
      "ifname"
    )
  })

  it("checkIfname - rejects U+FFFD: bytes that were not UTF-8, which would let two names share a record", () => {
    for (const name of ["eth\uFFFD", "\uFFFD", "a\uFFFDb"]) {
      const problem = checkIfname(name)
      assertInvalid(problem, "ifname", JSON.stringify(name))
      assert.include(problem!.message, "UTF-8")
    }
    assert.isUndefined(checkIfname("ethé"))
  })
})
