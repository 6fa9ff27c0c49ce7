// The netlink addon embedded in the bundle: loaded lazily from one kept, verified copy, wherever the file is.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { buildBundle, projectRoot } from "../../scripts/build.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  addonDirectoryPrefix,
  copyAlone,
  freshDirectory,
  runExecutable,
  watchCreations
} from "./runExecutable.ts"

const fixtureEntry = path.join(projectRoot, "test/build/fixtures/listLinks.ts")
const mappingLine = (stderr: string): string | undefined =>
  stderr
    .split("\n")
    .find((line) => line.startsWith("addon mapping: "))
    ?.slice("addon mapping: ".length)

privileged("needs `unshare -rn`", canUnshareNet())("embedded netlink addon (fixture bundle)", () => {
  let buildDirectory = ""
  let executable = ""

  beforeAll(async () => {
    buildDirectory = freshDirectory("fixture")
    await buildBundle({ entry: fixtureEntry, outfile: path.join(buildDirectory, "list-links") })
    // only the single file, away from node_modules
    executable = copyAlone(path.join(buildDirectory, "list-links"), "fixture-copy")
  })
  afterAll(() => {
    fs.rmSync(buildDirectory, { recursive: true, force: true })
    fs.rmSync(path.dirname(executable), { recursive: true, force: true })
  })

  it("is not loaded by a run that does not open a netlink socket", async () => {
    const tmp = freshDirectory("lazy-tmp")
    const watch = watchCreations(tmp)
    try {
      const run = await runExecutable([executable, "version"], { TMPDIR: tmp })
      assert.strictEqual(run.status, 0, run.stderr)
      assert.strictEqual(run.stdout.split("\n").length, 2)
      assert.strictEqual(mappingLine(run.stderr), "none")
      assert.deepStrictEqual(await watch.created(), [])
    } finally {
      watch.close()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  it("loads from one copy kept in a 0700 directory of its own in TMPDIR, which the next run reuses, and lists the links of a private netns", async () => {
    const tmp = freshDirectory("load-tmp")
    const watch = watchCreations(tmp)
    try {
      const run = await runExecutable(["unshare", "-rn", executable, "links"], { TMPDIR: tmp })
      assert.strictEqual(run.status, 0, run.stderr)
      assert.strictEqual(run.stdout, '["lo"]\n')
      const mapping = mappingLine(run.stderr) ?? ""
      assert.match(mapping, new RegExp(`^${tmp}/${addonDirectoryPrefix}\\d+/[0-9a-f]{16}-netlink\\.node$`))
      const kept = path.dirname(mapping)
      assert.strictEqual(fs.statSync(kept).mode & 0o777, 0o700)
      assert.deepStrictEqual(fs.readdirSync(kept), [path.basename(mapping)])
      const created = await watch.created()
      assert.deepStrictEqual(created, [path.basename(kept)])
      const inode = fs.statSync(mapping).ino
      // the second run writes nothing: same file, same inode, nothing new in TMPDIR
      const again = await runExecutable(["unshare", "-rn", executable, "links"], { TMPDIR: tmp })
      assert.strictEqual(again.status, 0, again.stderr)
      assert.strictEqual(mappingLine(again.stderr), mapping)
      assert.strictEqual(fs.statSync(mapping).ino, inode)
      assert.deepStrictEqual(fs.readdirSync(tmp), [path.basename(kept)])
      assert.deepStrictEqual(fs.readdirSync(kept), [path.basename(mapping)])
    } finally {
      watch.close()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  it("falls back to another directory when TMPDIR is a noexec mount", async () => {
    const noexec = freshDirectory("noexec")
    try {
      const script = [
        'mount -t tmpfs -o noexec,size=4m tmpfs "$NOEXEC"',
        'cp /bin/true "$NOEXEC/probe"',
        'if "$NOEXEC/probe" 2>/dev/null; then echo "probe: exec allowed" >&2; else echo "probe: exec denied" >&2; fi',
        'TMPDIR="$NOEXEC" "$EXECUTABLE" links'
      ].join("\n")
      const run = await runExecutable(["unshare", "-rmn", "sh", "-c", script], {
        NOEXEC: noexec,
        EXECUTABLE: executable
      })
      assert.include(run.stderr, "probe: exec denied")
      assert.strictEqual(run.status, 0, run.stderr)
      assert.strictEqual(run.stdout, '["lo"]\n')
      const mapping = mappingLine(run.stderr) ?? ""
      assert.match(mapping, new RegExp(`/${addonDirectoryPrefix}\\d+/[0-9a-f]{16}-netlink\\.node$`))
      assert.isFalse(mapping.startsWith(noexec), mapping)
    } finally {
      fs.rmSync(noexec, { recursive: true, force: true })
    }
  })

  it("fails with every attempt named, and nothing on stdout, when no candidate directory allows exec", async () => {
    const noexec = freshDirectory("all-noexec")
    try {
      // every candidate noexec: TMPDIR, XDG_RUNTIME_DIR, /dev/shm, /run and the executable's own directory
      const script = [
        'for dir in "$NOEXEC" /dev/shm /run; do mount -t tmpfs -o noexec,size=4m tmpfs "$dir"; done',
        'cp "$EXECUTABLE" "$NOEXEC/list-links"',
        'TMPDIR="$NOEXEC" XDG_RUNTIME_DIR="$NOEXEC" node "$NOEXEC/list-links" links'
      ].join("\n")
      const run = await runExecutable(["unshare", "-rmn", "sh", "-c", script], {
        NOEXEC: noexec,
        EXECUTABLE: executable
      })
      assert.strictEqual(run.status, 1)
      assert.strictEqual(run.stdout, "")
      assert.include(run.stderr, "cannot load native addon netlink.node")
      for (const directory of [noexec, "/dev/shm", "/run"]) assert.include(run.stderr, `${directory}: `)
    } finally {
      fs.rmSync(noexec, { recursive: true, force: true })
    }
  })
})
