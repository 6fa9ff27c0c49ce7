// scripts/install.sh: the executable lands in the CNI bin directory by rename, never half-written.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { projectRoot } from "../../scripts/build.ts"
import { freshDirectory } from "./runExecutable.ts"

const install = (...args: ReadonlyArray<string>) =>
  spawnSync(path.join(projectRoot, "scripts/install.sh"), args, { encoding: "utf8" })

describe("scripts/install.sh", () => {
  const directories: Array<string> = []
  const scratch = (label: string): string => {
    const directory = freshDirectory(label)
    directories.push(directory)
    return directory
  }
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true })
  })

  it("creates BIN_DIR and installs the file as routetable-ipam, mode 0755, with no temp file left", () => {
    const source = path.join(scratch("source"), "artifact")
    fs.writeFileSync(source, "#!/bin/sh\necho new\n", { mode: 0o600 })
    const binDirectory = path.join(scratch("bin"), "opt/cni/bin")
    const run = install("--from", source, binDirectory)
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(fs.readdirSync(binDirectory), ["routetable-ipam"])
    const target = path.join(binDirectory, "routetable-ipam")
    assert.strictEqual(fs.readFileSync(target, "utf8"), "#!/bin/sh\necho new\n")
    assert.strictEqual(fs.statSync(target).mode & 0o777, 0o755)
  })

  it("replaces an existing executable by rename (new inode), so a running copy keeps its file", () => {
    const source = path.join(scratch("source"), "artifact")
    fs.writeFileSync(source, "new contents")
    const binDirectory = scratch("bin")
    const target = path.join(binDirectory, "routetable-ipam")
    fs.writeFileSync(target, "old contents", { mode: 0o755 })
    const oldInode = fs.statSync(target).ino
    const held = fs.openSync(target, "r")
    try {
      const run = install("--from", source, binDirectory)
      assert.strictEqual(run.status, 0, run.stderr)
      assert.strictEqual(fs.readFileSync(target, "utf8"), "new contents")
      assert.notStrictEqual(fs.statSync(target).ino, oldInode)
      assert.strictEqual(fs.readFileSync(held, "utf8"), "old contents")
      assert.deepStrictEqual(fs.readdirSync(binDirectory), ["routetable-ipam"])
    } finally {
      fs.closeSync(held)
    }
  })

  it("reads BIN_DIR from the environment when no directory is given", () => {
    const source = path.join(scratch("source"), "artifact")
    fs.writeFileSync(source, "x")
    const binDirectory = scratch("bin")
    const run = spawnSync(path.join(projectRoot, "scripts/install.sh"), ["--from", source], {
      encoding: "utf8",
      env: { ...process.env, BIN_DIR: binDirectory }
    })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(fs.readdirSync(binDirectory), ["routetable-ipam"])
  })

  it("fails and leaves the installed executable alone when the source is missing", () => {
    const binDirectory = scratch("bin")
    const target = path.join(binDirectory, "routetable-ipam")
    fs.writeFileSync(target, "old contents", { mode: 0o755 })
    const run = install("--from", path.join(binDirectory, "missing"), binDirectory)
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, "does not exist")
    assert.strictEqual(fs.readFileSync(target, "utf8"), "old contents")
    assert.deepStrictEqual(fs.readdirSync(binDirectory), ["routetable-ipam"])
  })
})
