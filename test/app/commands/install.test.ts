// `routetable-ipam install`: the executable and the conflist land atomically, checked by the plugin's decoder; a bad conflist writes nothing.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  checkConflist,
  installedBinaryName,
  installedConflistName,
  writeFileAtomically
} from "../../../src/app/commands/install.ts"
import { runCli } from "./CliHarness.ts"

const projectRoot = path.resolve(import.meta.dirname, "../../..")
const shippedConflist = fs.readFileSync(path.join(projectRoot, "deploy/cni/bridge-ipv4.conflist"), "utf8")

describe("routetable-ipam install", () => {
  const directories: Array<string> = []
  const scratch = (): string => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-install-"))
    directories.push(directory)
    return directory
  }
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true })
  })

  /** A fake executable and the two host directories (not yet created). */
  const setup = () => {
    const root = scratch()
    const from = path.join(root, "artifact")
    fs.writeFileSync(from, "#!/bin/sh\necho new\n", { mode: 0o600 })
    return { root, from, binDir: path.join(root, "opt/cni/bin"), confDir: path.join(root, "etc/cni/net.d") }
  }

  it.effect(
    "installs the executable (mode 0755) and the shipped conflist (0644), creating the directories, no temp file left",
    () =>
      Effect.gen(function* () {
        const { from, binDir, confDir } = setup()
        const run = yield* runCli([
          "install",
          "--cni-bin-dir",
          binDir,
          "--cni-conf-dir",
          confDir,
          "--from",
          from
        ])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.deepStrictEqual(fs.readdirSync(binDir), [installedBinaryName])
        assert.deepStrictEqual(fs.readdirSync(confDir), [installedConflistName])
        const binary = path.join(binDir, installedBinaryName)
        assert.strictEqual(fs.readFileSync(binary, "utf8"), "#!/bin/sh\necho new\n")
        assert.strictEqual(fs.statSync(binary).mode & 0o777, 0o755)
        const conflist = path.join(confDir, installedConflistName)
        assert.strictEqual(fs.readFileSync(conflist, "utf8"), shippedConflist)
        assert.strictEqual(fs.statSync(conflist).mode & 0o777, 0o644)
        assert.include(run.stdout, `installed ${binary}`)
        assert.include(run.stdout, `wrote ${conflist}`)
        assert.include(run.stdout, "network pods uses routetable-ipam")
      })
  )

  it.effect("--conflist FILE is installed instead of the shipped one", () =>
    Effect.gen(function* () {
      const { root, from, binDir, confDir } = setup()
      const mine = path.join(root, "dual.conflist")
      const text = fs.readFileSync(path.join(projectRoot, "deploy/cni/bridge-dualstack.conflist"), "utf8")
      fs.writeFileSync(mine, text)
      const run = yield* runCli([
        "install",
        "--cni-bin-dir",
        binDir,
        "--cni-conf-dir",
        confDir,
        "--from",
        from,
        "--conflist",
        mine
      ])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(fs.readFileSync(path.join(confDir, installedConflistName), "utf8"), text)
      assert.include(run.stdout, `from ${mine}`)
    })
  )

  it.effect(
    "replaces existing files by rename (new inode): a process holding the old executable keeps reading it",
    () =>
      Effect.gen(function* () {
        const { from, binDir, confDir } = setup()
        fs.mkdirSync(binDir, { recursive: true })
        const target = path.join(binDir, installedBinaryName)
        fs.writeFileSync(target, "old contents", { mode: 0o755 })
        const oldInode = fs.statSync(target).ino
        const held = fs.openSync(target, "r")
        try {
          const run = yield* runCli([
            "install",
            "--cni-bin-dir",
            binDir,
            "--cni-conf-dir",
            confDir,
            "--from",
            from
          ])
          assert.strictEqual(run.code, 0, run.stderr)
          assert.notStrictEqual(fs.statSync(target).ino, oldInode)
          assert.strictEqual(fs.readFileSync(held, "utf8"), "old contents")
          assert.strictEqual(fs.readFileSync(target, "utf8"), "#!/bin/sh\necho new\n")
          assert.deepStrictEqual(fs.readdirSync(binDir), [installedBinaryName])
        } finally {
          fs.closeSync(held)
        }
      })
  )

  it.effect("a conflist the plugin refuses: exit 1 naming the field, and neither file is written", () =>
    Effect.gen(function* () {
      const { root, from, binDir, confDir } = setup()
      const bad = path.join(root, "bad.conflist")
      fs.writeFileSync(
        bad,
        shippedConflist.replace('"propagationTimeout": "250ms"', '"propagationTimeout": "soon"')
      )
      const run = yield* runCli([
        "install",
        "--cni-bin-dir",
        binDir,
        "--cni-conf-dir",
        confDir,
        "--from",
        from,
        "--conflist",
        bad
      ])
      assert.strictEqual(run.code, 1)
      assert.include(run.stderr, "propagationTimeout")
      assert.include(run.stderr, "nothing installed")
      assert.isFalse(fs.existsSync(binDir))
      assert.isFalse(fs.existsSync(confDir))
    })
  )

  it.effect("missing required flags: usage error, exit 2", () =>
    Effect.gen(function* () {
      const run = yield* runCli(["install", "--cni-bin-dir", "/nonexistent-dir"])
      assert.strictEqual(run.code, 2)
      assert.include(run.stderr, "cni-conf-dir")
    })
  )

  describe("checkConflist (the plugin's own decoder)", () => {
    it("accepts both shipped conflists and names their network", () => {
      assert.deepStrictEqual(checkConflist(shippedConflist), { networks: ["pods"] })
      const dual = fs.readFileSync(path.join(projectRoot, "deploy/cni/bridge-dualstack.conflist"), "utf8")
      assert.isObject(checkConflist(dual))
    })
    it("refuses non-JSON, a plain .conf, a list without our IPAM, and a bad subnet", () => {
      assert.match(String(checkConflist("{")), /not JSON/)
      assert.match(String(checkConflist('{"cniVersion":"1.0.0","name":"x","type":"bridge"}')), /plugins/)
      assert.match(
        String(checkConflist('{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"}]}')),
        /no plugin with ipam type routetable-ipam/
      )
      const badSubnet = checkConflist(shippedConflist.replace("100.64.0.0/16", "100.64.0.0/99"))
      assert.isString(badSubnet)
      assert.match(String(badSubnet), /subnet|ranges/)
    })
  })

  it.effect("writeFileAtomically leaves only the target, with the given mode", () =>
    Effect.promise(async () => {
      const directory = path.join(scratch(), "new")
      const target = await writeFileAtomically(directory, "f", "x", 0o640)
      assert.strictEqual(target, path.join(directory, "f"))
      assert.deepStrictEqual(fs.readdirSync(directory), ["f"])
      assert.strictEqual(fs.statSync(target).mode & 0o777, 0o640)
    })
  )
})
