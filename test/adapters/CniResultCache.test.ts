// libcni's result cache as migrate reads it: cniCacheV1 files (as libcni's cacheAdd writes them), pods from cniArgs, and what is skipped.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { parseCacheEntry, readCache } from "../../src/adapters/CniResultCache.ts"
import { formatIp } from "../../src/domain/Ip.ts"

/** A file as libcni writes it (libcni/api.go cacheAdd: config as base64, cniArgs as pairs, the chain's result). */
const libcniEntry = JSON.stringify({
  kind: "cniCacheV1",
  containerId: "3f6940ab5ab43bc522569d15b23f8c1bbde1d7678b080398506924fc01d72755",
  config: "eyJjbmlWZXJzaW9uIjoiMC40LjAifQ==",
  ifName: "eth0",
  networkName: "pods",
  netns: "/var/run/netns/8b8677c8-8929-4746-8206-514069760f6e",
  cniArgs: [
    ["IgnoreUnknown", "true"],
    ["K8S_POD_NAMESPACE", "default"],
    ["K8S_POD_NAME", "web-0"],
    ["K8S_POD_INFRA_CONTAINER_ID", "3f6940ab"]
  ],
  capabilityArgs: { portMappings: [] },
  result: {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0", sandbox: "/var/run/netns/x" }],
    ips: [
      { version: "4", interface: 0, address: "100.64.0.5/24", gateway: "100.64.0.1" },
      { version: "6", interface: 0, address: "fd00:64::5/120" }
    ],
    dns: {}
  }
})

describe("CniResultCache", () => {
  it("reads a libcni cniCacheV1 entry: container, interface, network, addresses, pod", () => {
    const entry = parseCacheEntry("/x/pods-3f69-eth0", libcniEntry)
    assert.isFalse("reason" in entry)
    if ("reason" in entry) return
    assert.strictEqual(entry.containerId.slice(0, 8), "3f6940ab")
    assert.strictEqual(entry.ifname, "eth0")
    assert.strictEqual(entry.network, "pods")
    assert.deepStrictEqual(entry.addresses.map(formatIp), ["100.64.0.5", "fd00:64::5"])
    assert.deepStrictEqual(entry.pod, { namespace: "default", name: "web-0" })
  })

  it("reads a file podman 4.3 (CNI backend, libcni) wrote for a container whose IPAM was routetable-ipam", () => {
    // captured from /var/lib/cni/results after `podman run --network rtmig` (see docs/migration.md)
    const file = path.join(import.meta.dirname, "fixtures/podman-4.3-cniCacheV1.json")
    const entry = parseCacheEntry(file, readFileSync(file, "utf8"))
    assert.deepStrictEqual(
      "reason" in entry ? entry : [entry.network, entry.ifname, entry.containerId.length],
      ["rtmig", "eth0", 64]
    )
    if ("reason" in entry) return
    assert.deepStrictEqual(entry.addresses.map(formatIp), ["100.64.9.108"])
    assert.deepStrictEqual(
      entry.pod,
      { name: "c1" },
      "podman sends K8S_POD_NAME (the container's name) alone"
    )
  })

  it("skips what is not a usable entry, saying why", () => {
    const reason = (text: string) => {
      const parsed = parseCacheEntry("f", text)
      return "reason" in parsed ? parsed.reason : "read"
    }
    assert.strictEqual(reason('{"cniVersion":"0.3.1","ips":[]}'), "not a libcni cniCacheV1 entry")
    assert.strictEqual(reason("not json"), "not a libcni cniCacheV1 entry")
    assert.strictEqual(
      reason(libcniEntry.replace('"cniCacheV1"', '"cniCacheV2"')),
      "not a libcni cniCacheV1 entry"
    )
    assert.match(reason(libcniEntry.replace('"ifName":"eth0"', '"ifName":"a/b"')), /^ifname: /)
    assert.match(reason(libcniEntry.replace("100.64.0.5/24", "nonsense")), /result\.ips: "nonsense"/)
    // an entry without a result names no address, and podman's K8S_POD_NAME alone is a pod without namespace
    const bare = parseCacheEntry(
      "f",
      JSON.stringify({
        kind: "cniCacheV1",
        containerId: "c",
        ifName: "eth0",
        networkName: "n",
        cniArgs: [["K8S_POD_NAME", "db"]]
      })
    )
    assert.deepStrictEqual("reason" in bare ? bare : [bare.addresses, bare.pod], [[], { name: "db" }])
  })

  it.effect("reads a directory; a missing one is empty and says so", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(path.join(tmpdir(), "rtipam-cache-"))
      try {
        writeFileSync(path.join(dir, "pods-c1-eth0"), libcniEntry)
        writeFileSync(path.join(dir, "pods-old-eth0"), '{"cniVersion":"0.3.1"}')
        mkdirSync(path.join(dir, "subdir"))
        const read = yield* readCache(dir)
        assert.isFalse(read.missing)
        assert.deepStrictEqual(
          read.entries.map((e) => e.file),
          [path.join(dir, "pods-c1-eth0")]
        )
        assert.deepStrictEqual(read.unreadable, [
          { file: path.join(dir, "pods-old-eth0"), reason: "not a libcni cniCacheV1 entry" }
        ])
        const missing = yield* readCache(path.join(dir, "nope"))
        assert.deepStrictEqual(missing, { entries: [], unreadable: [], missing: true })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  )
})
