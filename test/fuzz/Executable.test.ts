// Fuzz level 2: the built executable in a private network namespace, with filesystem hazards; a few hundred inputs (thousands under SOAK=1).
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import fc from "fast-check"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import { assertPluginBuilt, nodeBinary, pluginFile } from "../e2e/support/BuiltPlugin.ts"
import { leftBehind } from "../e2e/support/PluginConfig.ts"
import { type FilesystemHazards, type FuzzCase, fuzzCase } from "./FuzzCases.ts"
import { checkAnswer, reportRate, soak } from "./FuzzProperties.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const seed = Number(process.env.FUZZ_SEED ?? 20_261_129)
const numRuns = soak ? 3_000 : 200

/** Longest one call may take: the runtime would kill a plugin that hangs; we fail the case. */
const callBoundMillis = 20_000

/** `sh -c` script: mount the two hazards ($1 read-only, $2 full), then exec the plugin ($3 $4). */
const mountHazards = [
  'mount -t tmpfs -o ro,size=64k tmpfs "$1"',
  'mount -t tmpfs -o size=16k tmpfs "$2"',
  'mkdir "$2/data" && (cat /dev/zero > "$2/fill" 2>/dev/null; true)',
  "shift 2",
  'exec "$@"'
].join(" && ")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
}

suite("fuzz: the built executable in a private namespace", () => {
  let ns: Netns
  let base: string
  let hazards: FilesystemHazards
  let caseNumber = 0

  beforeAll(async () => {
    assertPluginBuilt()
    ns = await Netns.create()
    base = mkdtempSync(path.join(tmpdir(), "rtipam-fuzz-"))
    hazards = {
      regularFile: path.join(base, "regular-file"),
      fifo: path.join(base, "fifo"),
      stdoutLink: path.join(base, "stdout-link"),
      directory: path.join(base, "directory"),
      readOnly: path.join(base, "read-only"),
      full: path.join(base, "full")
    }
    mkdirSync(hazards.readOnly)
    mkdirSync(hazards.full)
    writeFileSync(hazards.regularFile, "not a directory\n")
    execFileSync("mkfifo", [hazards.fifo])
    symlinkSync("/dev/stdout", hazards.stdoutLink)
    mkdirSync(hazards.directory)
  })

  afterAll(async () => {
    await ns?.close()
    if (base !== undefined) rmSync(base, { recursive: true, force: true })
  })

  const invoke = async (fuzz: FuzzCase, command: string): Promise<Run> => {
    const env: Record<string, string> = {
      CNI_CONTAINERID: "",
      CNI_IFNAME: "",
      CNI_NETNS: "",
      CNI_ARGS: "",
      CNI_PATH: ""
    }
    for (const [key, value] of Object.entries(fuzz.env)) env[key] = value ?? ""
    env.CNI_COMMAND = command
    const started = performance.now()
    // each call in a private mount namespace where `read-only` is a read-only and `full` a full tmpfs
    const result = await ns.exec(
      "unshare",
      [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        mountHazards,
        "sh",
        hazards.readOnly,
        hazards.full,
        nodeBinary,
        pluginFile
      ],
      {
        env,
        stdin: fuzz.stdin,
        timeoutMs: callBoundMillis
      }
    )
    return { ...result, millis: performance.now() - started }
  }

  /** Routes anything but the kernel made (protocol 2), both families, every table. */
  const foreignRoutes = async (): Promise<ReadonlyArray<string>> => {
    const out: Array<string> = []
    for (const family of ["-4", "-6"]) {
      const text = await ns.run("ip", ["-j", "-N", family, "route", "show", "table", "all"])
      for (const route of JSON.parse(text) as Array<{ dst: string; protocol?: string }>) {
        if (route.protocol !== "2" && route.protocol !== "kernel")
          out.push(`${route.dst} proto ${route.protocol}`)
      }
    }
    return out
  }

  const checkCase = async (fuzz: FuzzCase, dataDir: string): Promise<string | undefined> => {
    const first = await invoke(fuzz, fuzz.command)
    if (first.millis >= callBoundMillis) return `no answer within ${callBoundMillis} ms; ${fuzz.fault}`
    const problem = checkAnswer(fuzz, first.code, first.stdout)
    if (problem !== undefined) return `${problem}; stderr ${JSON.stringify(first.stderr.slice(0, 300))}`
    if (fuzz.command === "ADD" && first.code === 0) {
      const del = await invoke(fuzz, "DEL")
      const delProblem = checkAnswer(
        { ...fuzz, command: "DEL", codes: [0], fault: `DEL after ${fuzz.fault}` },
        del.code,
        del.stdout
      )
      if (delProblem !== undefined) return delProblem
    }
    // whatever happened, nothing of ours is left: no route (only ADD inserts any), no record, no empty directory
    const routes = fuzz.command === "ADD" ? await foreignRoutes() : []
    if (routes.length > 0) return `left routes ${JSON.stringify(routes)}; ${fuzz.fault}`
    const files = leftBehind(dataDir)
    if (files.length > 0) return `left ${JSON.stringify(files)} in the data directory; ${fuzz.fault}`
    return undefined
  }

  it(
    `${numRuns} malformed or odd invocations of the built plugin get a clean answer, in time, leaving nothing (seed ${seed})`,
    async () => {
      let inputs = 0
      const started = performance.now()
      await fc.assert(
        fc.asyncProperty(
          fc.nat().chain(() => {
            const dataDir = path.join(base, `case-${caseNumber++}`)
            return fuzzCase({ dataDir, hazards }).map((fuzz) => ({ fuzz, dataDir }))
          }),
          async ({ fuzz, dataDir }) => {
            // an environment cannot carry NUL (C strings): such cases exist in-process only
            fc.pre(![fuzz.command, ...Object.values(fuzz.env)].some((v) => v?.includes("\u0000")))
            inputs++
            const problem = await checkCase(fuzz, dataDir)
            rmSync(dataDir, { recursive: true, force: true })
            if (problem !== undefined) throw new Error(problem)
          }
        ),
        { seed, numRuns, endOnFailure: true }
      )
      reportRate(
        "executable (dist/routetable-ipam in a private namespace)",
        inputs,
        performance.now() - started
      )
      assert.isAtLeast(inputs, numRuns * 0.9)
    },
    soak ? 3_600_000 : 600_000
  )
})
