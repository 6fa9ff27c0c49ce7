// The single executable (npm run build:sea): Node 24 with the bundle and the netlink addon as an asset.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { buildSea, findPostject } from "../../scripts/build-sea.ts"
import { projectRoot } from "../../scripts/build.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import { addonDirectoryPrefix, freshDirectory, runExecutable, watchCreations } from "./runExecutable.ts"

const entry = process.env.BUILD_TEST_ENTRY ?? path.join(projectRoot, "src/app/main.ts")
const fixtureEntry = path.join(projectRoot, "test/build/fixtures/listLinks.ts")

privileged(
  "needs `unshare -rn` and postject (devDependency postject@1.0.0-alpha.6)",
  canUnshareNet() && findPostject() !== undefined
)("single executable application", () => {
  let outDirectory = ""
  const sea = () => path.join(outDirectory, "routetable-ipam")
  const fixtureSea = () => path.join(outDirectory, "list-links")

  beforeAll(async () => {
    outDirectory = freshDirectory("sea")
    await buildSea({ entry, outfile: sea() })
    await buildSea({ entry: fixtureEntry, outfile: fixtureSea() })
  })
  afterAll(() => fs.rmSync(outDirectory, { recursive: true, force: true }))

  it("CNI_COMMAND=VERSION without node on PATH: exactly one JSON line, addon not loaded", async () => {
    assert.strictEqual(fs.statSync(sea()).mode & 0o777, 0o755)
    const tmp = freshDirectory("sea-version-tmp")
    const watch = watchCreations(tmp)
    try {
      const run = await runExecutable([sea()], { CNI_COMMAND: "VERSION", TMPDIR: tmp, PATH: "/nonexistent" })
      assert.strictEqual(run.status, 0, run.stderr)
      const lines = run.stdout.split("\n")
      assert.strictEqual(lines.length, 2, run.stdout)
      const answer = JSON.parse(lines[0] ?? "") as { cniVersion?: unknown }
      assert.isString(answer.cniVersion)
      assert.deepStrictEqual(await watch.created(), [])
    } finally {
      watch.close()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  it("loads the addon asset from one copy kept in a 0700 directory of its own and lists the links of a private netns", async () => {
    const tmp = freshDirectory("sea-load-tmp")
    try {
      const run = await runExecutable(["unshare", "-rn", fixtureSea(), "links"], { TMPDIR: tmp })
      assert.strictEqual(run.status, 0, run.stderr)
      assert.strictEqual(run.stdout, '["lo"]\n')
      assert.match(
        run.stderr,
        new RegExp(`addon mapping: ${tmp}/${addonDirectoryPrefix}\\d+/[0-9a-f]{16}-netlink\\.node\n`)
      )
      assert.deepStrictEqual(fs.readdirSync(tmp), [`${addonDirectoryPrefix}0`])
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})
