// The single executable installs itself: run alone (no node on PATH, nothing inherited), it copies itself and the shipped conflist into temporary host directories.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { checkConflist, installedBinaryName, installedConflistName } from "../../src/app/commands/install.ts"
import { projectRoot } from "./support/BuiltPlugin.ts"
import { canBuildSea, ensureSea } from "./support/SeaBuild.ts"

/** Run `file args...` with an empty environment except TMPDIR (and `env`), as an init container would. */
const runAlone = (file: string, args: ReadonlyArray<string>, tmp: string, env: Record<string, string> = {}) =>
  spawnSync(
    "/usr/bin/env",
    ["-i", `TMPDIR=${tmp}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), file, ...args],
    {
      encoding: "utf8",
      timeout: 60_000
    }
  )

describe.skipIf(!canBuildSea())("the single executable's install (postject present)", () => {
  let root = ""
  let sea = ""
  beforeAll(() => {
    sea = ensureSea()
    root = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-e2e-install-"))
    fs.mkdirSync(path.join(root, "tmp"))
  }, 180_000)
  afterAll(() => {
    if (root !== "") fs.rmSync(root, { recursive: true, force: true })
  })

  it("copies itself (byte for byte, 0755) and the shipped conflist; the copy answers VERSION", () => {
    const tmp = path.join(root, "tmp")
    const binDir = path.join(root, "host/opt/cni/bin")
    const confDir = path.join(root, "host/etc/cni/net.d")
    const run = runAlone(sea, ["install", "--cni-bin-dir", binDir, "--cni-conf-dir", confDir], tmp)
    assert.strictEqual(run.status, 0, run.stderr)
    const binary = path.join(binDir, installedBinaryName)
    assert.deepStrictEqual(fs.readdirSync(binDir), [installedBinaryName])
    assert.strictEqual(fs.statSync(binary).mode & 0o777, 0o755)
    assert.isTrue(
      fs.readFileSync(binary).equals(fs.readFileSync(sea)),
      "the installed file is the executable"
    )
    const version = runAlone(binary, [], tmp, { CNI_COMMAND: "VERSION" })
    assert.strictEqual(version.status, 0, version.stderr)
    assert.include(JSON.parse(version.stdout).supportedVersions, "1.0.0")

    const conflist = fs.readFileSync(path.join(confDir, installedConflistName), "utf8")
    const shipped = fs.readFileSync(path.join(projectRoot, "deploy/cni/bridge-ipv4.conflist"), "utf8")
    assert.strictEqual(conflist, shipped, "the embedded conflist is the shipped one")
    assert.deepStrictEqual(checkConflist(conflist), { networks: ["pods"] })
    assert.include(run.stdout, `installed ${binary}`)
  })

  it("a refused --conflist: exit 1, nothing written", () => {
    const tmp = path.join(root, "tmp")
    const bad = path.join(root, "bad.conflist")
    fs.writeFileSync(bad, '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"}]}')
    const binDir = path.join(root, "refused/bin")
    const run = runAlone(
      sea,
      ["install", "--cni-bin-dir", binDir, "--cni-conf-dir", binDir, "--conflist", bad],
      tmp
    )
    assert.strictEqual(run.status, 1, run.stdout)
    assert.include(run.stderr, "no plugin with ipam type routetable-ipam")
    assert.isFalse(fs.existsSync(binDir))
  })
})
