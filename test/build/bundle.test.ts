// The operator executable: src/app/main.ts bundled into one file that answers VERSION without the addon.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { buildBundle, projectRoot } from "../../scripts/build.ts"
import {
  addonDirectoryPrefix,
  copyAlone,
  freshDirectory,
  runExecutable,
  watchCreations
} from "./runExecutable.ts"

// BUILD_TEST_ENTRY lets the suite run against another entry while src/app/main.ts is being written.
const entry = process.env.BUILD_TEST_ENTRY ?? path.join(projectRoot, "src/app/main.ts")

describe("npm run build (dist/routetable-ipam)", () => {
  let outDirectory = ""
  let bundle = ""

  beforeAll(async () => {
    outDirectory = freshDirectory("bundle")
    bundle = path.join(outDirectory, "routetable-ipam")
    await buildBundle({ entry, outfile: bundle })
  })
  afterAll(() => fs.rmSync(outDirectory, { recursive: true, force: true }))

  it("is one executable file, mode 0755, starting with a node shebang", () => {
    assert.deepStrictEqual(fs.readdirSync(outDirectory), ["routetable-ipam"])
    assert.strictEqual(fs.statSync(bundle).mode & 0o777, 0o755)
    const firstLine = fs.readFileSync(bundle, "utf8").split("\n", 1)[0]
    assert.strictEqual(firstLine, "#!/usr/bin/env node")
  })

  it("CNI_COMMAND=VERSION, copied alone: exactly one JSON line on stdout, and the addon is not loaded", async () => {
    const copy = copyAlone(bundle, "version")
    const tmp = freshDirectory("version-tmp")
    const watch = watchCreations(tmp)
    try {
      const run = await runExecutable([copy], { CNI_COMMAND: "VERSION", TMPDIR: tmp })
      assert.strictEqual(run.status, 0, run.stderr)
      const lines = run.stdout.split("\n")
      assert.strictEqual(lines.length, 2, run.stdout)
      assert.strictEqual(lines[1], "")
      const answer = JSON.parse(lines[0] ?? "") as { cniVersion?: unknown; supportedVersions?: unknown }
      assert.isString(answer.cniVersion)
      assert.isArray(answer.supportedVersions)
      const addonDirectories = (await watch.created()).filter((name) => name.startsWith(addonDirectoryPrefix))
      assert.deepStrictEqual(addonDirectories, [])
    } finally {
      watch.close()
      fs.rmSync(path.dirname(copy), { recursive: true, force: true })
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  for (const packageJson of ['{"type":"commonjs"}', '{"type":"module"}', "{}"]) {
    it(`answers VERSION, and runs the program from its payload, next to a package.json ${packageJson} (Node picks the module type from it)`, async () => {
      const copy = copyAlone(bundle, "module-type")
      try {
        fs.writeFileSync(path.join(path.dirname(copy), "package.json"), packageJson)
        const run = await runExecutable([copy], { CNI_COMMAND: "VERSION" })
        assert.strictEqual(run.status, 0, run.stderr)
        assert.strictEqual(run.stdout.split("\n").length, 2, run.stdout)
        assert.isString((JSON.parse(run.stdout) as { cniVersion?: unknown }).cniVersion)
        // the CNI core itself: ADD without its other variables is refused with code 4
        const add = await runExecutable([copy], { CNI_COMMAND: "ADD" })
        assert.strictEqual(add.status, 4, add.stderr)
        assert.strictEqual((JSON.parse(add.stdout) as { code?: unknown }).code, 4)
      } finally {
        fs.rmSync(path.dirname(copy), { recursive: true, force: true })
      }
    })
  }

  it("compiles its program with the build's code cache, which V8 accepts (the cache is for the program text exactly)", async () => {
    const copy = copyAlone(bundle, "code-cache")
    try {
      const preload = path.join(projectRoot, "test/build/fixtures/reportCodeCache.cjs")
      const run = await runExecutable([process.execPath, "-r", preload, copy], { CNI_COMMAND: "ADD" })
      assert.strictEqual(run.status, 4, run.stderr)
      assert.include(run.stderr, "code cache: accepted\n")
      // negative control: other V8 flags make V8 reject the same cache, and the preload says so
      const otherFlags = await runExecutable([process.execPath, "--no-opt", "-r", preload, copy], {
        CNI_COMMAND: "ADD"
      })
      assert.strictEqual(otherFlags.status, 4, otherFlags.stderr)
      assert.include(otherFlags.stderr, "code cache: rejected\n")
    } finally {
      fs.rmSync(path.dirname(copy), { recursive: true, force: true })
    }
  })

  it("a truncated or extended copy runs nothing: one CNI error (999) on stdout, the cause on stderr, exit 1; VERSION still answers", async () => {
    const intact = copyAlone(bundle, "damaged")
    const tmp = freshDirectory("damaged-tmp")
    const watch = watchCreations(tmp)
    try {
      // negative control: the intact copy starts the CNI core (code 4: the other variables are missing)
      const control = await runExecutable([intact], { CNI_COMMAND: "ADD", TMPDIR: tmp })
      assert.strictEqual(control.status, 4, control.stderr)
      const bytes = fs.readFileSync(intact)
      const damaged = path.join(path.dirname(intact), "damaged")
      for (const content of [
        bytes.subarray(0, bytes.length - 1),
        bytes.subarray(0, Math.floor(bytes.length / 2)),
        Buffer.concat([bytes, Buffer.from("\n")])
      ]) {
        fs.writeFileSync(damaged, content, { mode: 0o755 })
        const run = await runExecutable([damaged], { CNI_COMMAND: "ADD", TMPDIR: tmp })
        assert.strictEqual(run.status, 1, run.stderr)
        const lines = run.stdout.split("\n")
        assert.strictEqual(lines.length, 2, run.stdout)
        const error = JSON.parse(lines[0] ?? "") as { code?: unknown; msg?: unknown; details?: unknown }
        assert.strictEqual(error.code, 999)
        assert.strictEqual(
          error.msg,
          `routetable-ipam: the executable ${damaged} is damaged or incomplete, install it again`
        )
        assert.match(String(error.details), /payload line/)
        assert.include(run.stderr, "is damaged or incomplete")
        // the CNI core never ran: it would have refused the missing variables (code 4) and logged it
        assert.notInclude(run.stderr, "ADD refused")
        assert.isBelow(run.stderr.length, 1000)
        const version = await runExecutable([damaged], { CNI_COMMAND: "VERSION" })
        assert.strictEqual(version.status, 0, version.stderr)
      }
      assert.deepStrictEqual(
        (await watch.created()).filter((name) => name.startsWith(addonDirectoryPrefix)),
        []
      )
    } finally {
      watch.close()
      fs.rmSync(path.dirname(intact), { recursive: true, force: true })
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})
