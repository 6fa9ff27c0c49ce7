// The operator command line as a whole: --help lists every command, --version names the commit, completions, usage errors; CNI mode never loads effect/cli.
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import * as Effect from "effect/Effect"
import { buildCommit } from "../../../scripts/build.ts"
import { pluginVersion } from "../../../src/app/plugin/PluginVersion.ts"
import { runCli } from "./CliHarness.ts"

const root = path.resolve(import.meta.dirname, "../../..")

describe("operator command line", () => {
  it.effect("--help lists every command with its summary", () =>
    Effect.gen(function* () {
      const run = yield* runCli(["--help"])
      assert.strictEqual(run.code, 0)
      for (const name of ["list", "gc", "release", "simulate", "demo", "completions"])
        assert.match(run.stdout, new RegExp(`^  ${name} +\\S`, "m"), name)
      assert.match(run.stdout, /CNI_COMMAND/)
    })
  )

  it.effect("every command has its own generated --help (exit 0, on stdout)", () =>
    Effect.gen(function* () {
      for (const [name, flag] of [
        ["list", "--prometheus"],
        ["gc", "--grace DURATION"],
        ["release", "--force"],
        ["simulate", "--check"],
        ["demo", "--simulate"],
        ["completions", "bash"]
      ] as const) {
        const run = yield* runCli([name, "--help"])
        assert.strictEqual(run.code, 0, name)
        assert.include(run.stdout, flag, name)
        assert.notInclude(run.stdout, "inside-private-namespace", name)
      }
    })
  )

  it.effect("--version prints the version and the commit (unknown when run from source)", () =>
    Effect.gen(function* () {
      const run = yield* runCli(["--version"])
      assert.strictEqual(run.code, 0)
      assert.include(run.stdout, `${pluginVersion} (commit unknown)`)
    })
  )

  it.effect("an unknown command or flag: exit 2, the error on stderr", () =>
    Effect.gen(function* () {
      const unknown = yield* runCli(["frobnicate"])
      assert.strictEqual(unknown.code, 2)
      assert.match(unknown.stderr, /frobnicate/)
      const flag = yield* runCli(["gc", "--config", "c", "--frob"])
      assert.strictEqual(flag.code, 2)
      assert.match(flag.stderr, /--frob/)
    })
  )

  it.effect("completions: a script for each shell that names the commands and their flags", () =>
    Effect.gen(function* () {
      for (const shell of ["bash", "zsh", "fish"]) {
        const run = yield* runCli(["completions", shell])
        assert.strictEqual(run.code, 0, shell)
        for (const word of ["routetable-ipam", "release", "simulate", "--prometheus"])
          assert.include(run.stdout, word, `${shell}: ${word}`)
      }
      const bad = yield* runCli(["completions", "tcsh"])
      assert.strictEqual(bad.code, 2)
    })
  )

  it("the built executable's --version names the commit it was built from", () => {
    const run = spawnSync(process.execPath, [path.join(root, "dist/routetable-ipam"), "--version"], {
      encoding: "utf8"
    })
    assert.strictEqual(run.status, 0, run.stderr)
    const commit = buildCommit()
    assert.notStrictEqual(commit, "unknown")
    // built from this checkout: the same commit (the build may have seen other uncommitted changes)
    assert.include(run.stdout, `${pluginVersion} (commit ${commit.replace(/-dirty$/, "")}`)
  })

  it("CNI mode and VERSION never load effect/cli (only operator mode does)", async () => {
    const inputsOf = async (entry: string) => {
      const result = await esbuild.build({
        entryPoints: [path.join(root, entry)],
        bundle: true,
        platform: "node",
        format: "cjs",
        write: false,
        metafile: true,
        logLevel: "silent",
        external: ["netlink"],
        // follow only static imports: what the entry loads before any lazy import()
        plugins: [
          {
            name: "static-only",
            setup: (build) => {
              build.onResolve({ filter: /.*/ }, (args) =>
                args.kind === "dynamic-import" ? { path: args.path, external: true } : undefined
              )
            }
          }
        ]
      })
      return Object.keys(result.metafile.inputs)
    }
    const isCli = (file: string) => /node_modules\/effect\/dist\/cli\//.test(file)
    assert.isFalse((await inputsOf("src/app/main.ts")).some(isCli), "main.ts")
    assert.isFalse((await inputsOf("src/app/entry/cniEntry.ts")).some(isCli), "cniEntry.ts")
    // negative control: the operator entry does load it
    assert.isTrue((await inputsOf("src/app/entry/operatorEntry.ts")).some(isCli), "operatorEntry.ts")
  })
})
