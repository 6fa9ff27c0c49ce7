// The newcomer path: doc commands run with the project's Node, LICENSE matches package.json, the gc timer units are valid.
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = path.resolve(import.meta.dirname, "../..")
const read = (file: string) => readFileSync(path.join(root, file), "utf8")
const docs = ["README.md", ...readdirSync(path.join(root, "docs")).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith(".md")
)

/** `node scripts/x.ts` with the machine's node: fails under Node 20 (no type stripping). */
const bareNode = /(^|[\s`'(])(sudo\s+)?node\s+(scripts|examples|bench)\//m

describe("newcomer path", () => {
  it("no doc runs a TypeScript script with a bare `node` (npm run, or ./node_modules/.bin/node)", () => {
    assert.isTrue(bareNode.test("sudo node scripts/lab.ts up"), "negative control: the pattern finds one")
    assert.isFalse(bareNode.test("./node_modules/.bin/node scripts/lab/pods.ts"))
    for (const file of docs) {
      const hits = read(file)
        .split("\n")
        .filter((line) => bareNode.test(line))
      assert.deepStrictEqual(hits, [], file)
    }
  })

  it("README states the Node requirement as package.json's engines say it", () => {
    const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node
    assert.include(read("README.md"), `Node ${engines.replace(">=", "")} or later`)
  })

  it("LICENSE is the Apache License 2.0 package.json names; CHANGELOG exists", () => {
    assert.strictEqual((JSON.parse(read("package.json")) as { license: string }).license, "Apache-2.0")
    const license = read("LICENSE")
    assert.include(license, "Apache License")
    assert.include(license, "Version 2.0, January 2004")
    assert.include(read("CHANGELOG.md"), "# Changelog")
  })

  it("the gc service and timer pass systemd-analyze verify (with a stand-in executable)", () => {
    let analyze: string
    try {
      analyze = execFileSync("sh", ["-c", "command -v systemd-analyze"], { encoding: "utf8" }).trim()
    } catch {
      return // no systemd tools on this machine: nothing to verify with
    }
    const dir = mkdtempSync(path.join(tmpdir(), "rtipam-units-"))
    try {
      // the units name /opt/cni/bin/routetable-ipam; verify copies that point at a stand-in
      const stub = path.join(dir, "routetable-ipam")
      writeFileSync(stub, "#!/bin/sh\n")
      chmodSync(stub, 0o755)
      for (const unit of ["routetable-ipam-gc.service", "routetable-ipam-gc.timer"]) {
        const text = read(`deploy/systemd/${unit}`).replaceAll("/opt/cni/bin/routetable-ipam", stub)
        writeFileSync(path.join(dir, unit), text)
      }
      const units = ["routetable-ipam-gc.service", "routetable-ipam-gc.timer"].map((u) => path.join(dir, u))
      const out = execFileSync(analyze, ["verify", ...units], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"]
      })
      assert.strictEqual(out.trim(), "")
      assert.include(
        read("deploy/systemd/routetable-ipam-gc.service"),
        "ExecStart=/opt/cni/bin/routetable-ipam gc "
      )
      assert.include(read("deploy/systemd/routetable-ipam-gc.timer"), "OnUnitActiveSec=")
      assert.isTrue(existsSync(path.join(root, "deploy/systemd/routetable-ipam-gc.timer")))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
