// The README's "run the main job" command: the built executable's demo, in a namespace and simulated.
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../../support/Privileges.ts"

const root = path.resolve(import.meta.dirname, "../../..")
const demo = (...args: Array<string>) =>
  spawnSync(process.execPath, [path.join(root, "dist/routetable-ipam"), "demo", ...args], {
    encoding: "utf8",
    timeout: 60_000
  })

privileged("needs `unshare -rn` (a private network namespace)", canUnshareNet())(
  "demo in a namespace",
  () => {
    it("allocates, shows the routes, refuses a taken address, releases everything", () => {
      const run = demo()
      assert.strictEqual(run.status, 0, run.stderr)
      const adds = run.stdout.match(/^ADD (web-1|web-2|db-1) +-> exit 0 /gm) ?? []
      assert.strictEqual(adds.length, 3, run.stdout)
      assert.strictEqual((run.stdout.match(/ dev lo .*metric 4096/g) ?? []).length, 6, run.stdout)
      assert.match(run.stdout, /CHECK web-1 -> exit 0/)
      assert.match(run.stdout, /ADD intruder requesting \S+ -> exit 101 /)
      assert.match(run.stdout, /Routes with protocol 192 left: none/)
    })
  }
)

it("demo --simulate runs a simulated cluster with no double allocation", () => {
  const run = demo("--simulate")
  assert.strictEqual(run.status, 0, run.stderr)
  assert.match(run.stdout, /simulated cluster/)
  assert.match(run.stdout, /duplicates\D+0\b/i)
})

it("the demo refuses to run its inner part outside a private namespace", () => {
  const run = demo("--inside-private-namespace")
  assert.notStrictEqual(run.status, 0)
  assert.match(run.stderr, /not inside a private network namespace/)
})
