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
    it(`answers VERSION next to a package.json ${packageJson} (Node picks the module type from it)`, async () => {
      const copy = copyAlone(bundle, "module-type")
      try {
        fs.writeFileSync(path.join(path.dirname(copy), "package.json"), packageJson)
        const run = await runExecutable([copy], { CNI_COMMAND: "VERSION" })
        assert.strictEqual(run.status, 0, run.stderr)
        assert.strictEqual(run.stdout.split("\n").length, 2, run.stdout)
        assert.isString((JSON.parse(run.stdout) as { cniVersion?: unknown }).cniVersion)
      } finally {
        fs.rmSync(path.dirname(copy), { recursive: true, force: true })
      }
    })
  }
})
