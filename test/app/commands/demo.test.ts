// The README's "run the main job" command: the built executable's demo on a 3-node cluster, in one namespace, simulated.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { podLabAvailable, podLabRequirement } from "../../e2e/support/PodLab.ts"
import { runsPresent } from "../../support/Lab.ts"
import { canUnshareNet, privileged } from "../../support/Privileges.ts"

const root = path.resolve(import.meta.dirname, "../../..")
const demo = (...args: Array<string>) =>
  spawnSync(process.execPath, [path.join(root, "dist/routetable-ipam"), "demo", ...args], {
    encoding: "utf8",
    timeout: 60_000
  })

privileged(podLabRequirement, podLabAvailable())("demo as root: pods on a 3-node cluster", () => {
  for (const topology of ["routed", "overlay"] as const) {
    it(`${topology}: who got which address on which node, what each table learned, a full ping matrix, nothing left`, async () => {
      const run = demo("--topology", topology)
      assert.strictEqual(run.status, 0, `${run.stdout}\n${run.stderr}`)
      const prefix = run.stdout.match(/^Lab (rtl[0-9a-f]{4}-): 3 nodes/m)?.[1]
      assert.isDefined(prefix, run.stdout)
      const subnet = topology === "routed" ? "32" : "40"
      const row = new RegExp(
        `^  p\\d+@n([123]) +100\\.64\\.${subnet}\\.\\d+ +fd00:100:0:${subnet}::[0-9a-f]+ +\\d+ ms$`,
        "gm"
      )
      const rows = [...run.stdout.matchAll(row)].map((match) => match[1])
      assert.deepStrictEqual(rows.sort(), ["1", "1", "2", "2", "3", "3"], run.stdout)
      // every node holds its 2 pods' 4 addresses and learned the other 8, 4 from each peer
      assert.lengthOf(run.stdout.match(/^ {2}n[123] holds {3}(\S+, ){3}\S+ {2}\(dev/gm) ?? [], 3, run.stdout)
      assert.lengthOf(run.stdout.match(/^ {5}learned (\S+, ){3}\S+ {2}via n[123]$/gm) ?? [], 6, run.stdout)
      const matrix = (run.stdout.match(/^ {2}p\d+@n[123] .*$/gm) ?? []).filter((line) => line.includes("·"))
      assert.lengthOf(matrix, 6, run.stdout)
      for (const line of matrix) assert.lengthOf(line.match(/✓ ✓/g) ?? [], 5, `${line}\n${run.stdout}`)
      assert.match(run.stdout, /60 pings between pods, 0 unanswered/)
      assert.match(run.stdout, new RegExp(`namespaces of ${prefix} deleted`))
      assert.notInclude(await runsPresent(), prefix)
      assert.isFalse(existsSync(path.join(tmpdir(), `${prefix}lab`)), "the lab's directory is left")
    })
  }
})

privileged("needs `unshare -rn` (a private network namespace)", canUnshareNet())("demo --namespace", () => {
  it("allocates, shows the routes, refuses a taken address, releases everything", () => {
    const run = demo("--namespace")
    assert.strictEqual(run.status, 0, run.stderr)
    const adds = run.stdout.match(/^ADD (web-1|web-2|db-1) +-> exit 0 /gm) ?? []
    assert.strictEqual(adds.length, 3, run.stdout)
    assert.strictEqual((run.stdout.match(/ dev lo .*metric 4096/g) ?? []).length, 6, run.stdout)
    assert.match(run.stdout, /CHECK web-1 -> exit 0/)
    assert.match(run.stdout, /ADD intruder requesting \S+ -> exit 101 /)
    assert.match(run.stdout, /Routes with protocol 192 left: none/)
  })
})

privileged("needs `unshare -U` (a user namespace, to run the demo without root)", canUnshareNet())(
  "demo without root",
  () => {
    it("falls back to the simulated cluster", () => {
      // in a user namespace without a uid mapping the demo runs as nobody (uid 65534)
      const run = spawnSync(
        "unshare",
        ["-U", process.execPath, path.join(root, "dist/routetable-ipam"), "demo"],
        { encoding: "utf8", timeout: 60_000 }
      )
      assert.strictEqual(run.status, 0, run.stderr)
      assert.match(run.stdout, /the cluster demo needs root/)
      assert.match(run.stdout, /duplicates\D+0\b/i)
    })
  }
)

it("demo --simulate runs a simulated cluster with no double allocation", () => {
  const run = demo("--simulate")
  assert.strictEqual(run.status, 0, run.stderr)
  assert.match(run.stdout, /simulated cluster/)
  assert.match(run.stdout, /duplicates\D+0\b/i)
})

it("demo refuses an unknown topology with a usage error", () => {
  const run = demo("--topology", "mesh")
  assert.strictEqual(run.status, 2)
  assert.match(run.stderr, /--topology: expected routed or overlay/)
})

it("the demo refuses to run its inner part outside a private namespace", () => {
  const run = demo("--inside-private-namespace")
  assert.notStrictEqual(run.status, 0)
  assert.match(run.stderr, /not inside a private network namespace/)
})
