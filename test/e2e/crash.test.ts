// Crash consistency: the built plugin is SIGKILLed at each step of ADD; a later DEL, GC or ADD restores table and records.
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { faultPoints } from "../../src/app/plugin/FaultInjection.ts"
import type { Netns } from "../support/Netns.ts"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertCniError,
  assertPluginBuilt,
  assertQuietSuccess,
  attachmentEnv,
  describeRun,
  nodeBinary,
  type PluginEnv,
  type PluginRun,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { filesUnder } from "./support/PluginConfig.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

/** W of the crashing network: the during-wait kill lands 5 ms into it, after-verify only after it. */
const waitMillis = 300

/** Two networks with the same route protocol (192) and different ranges, both dual stack. */
const networks = {
  a: { name: "crash-a", v4: "100.64.10.", v6: "fd00:10::", ranges: ["100.64.10.0/24", "fd00:10::/120"] },
  b: { name: "crash-b", v4: "100.64.20.", v6: "fd00:20::", ranges: ["100.64.20.0/24", "fd00:20::/120"] }
} as const
type NetworkKey = keyof typeof networks

const confOf = (
  key: NetworkKey,
  dataDir: string,
  extra?: Readonly<Record<string, unknown>>
): Record<string, unknown> => ({
  cniVersion: "1.1.0",
  name: networks[key].name,
  type: "bridge",
  ...extra,
  ipam: {
    type: "routetable-ipam",
    dataDir,
    ranges: networks[key].ranges.map((subnet) => [{ subnet }]),
    propagationTimeout: key === "a" ? `${waitMillis}ms` : "20ms"
  }
})

const inNetwork = (key: NetworkKey, host: string): boolean =>
  host.startsWith(networks[key].v4) || host.startsWith(networks[key].v6)

/** Hosts with a route of protocol 192 (both families), as `ip -j route show proto 192` prints them. */
const ourHosts = async (ns: Netns): Promise<ReadonlyArray<string>> => {
  const hosts: Array<string> = []
  for (const family of ["-4", "-6"]) {
    const out = await ns.run("ip", ["-j", family, "route", "show", "proto", "192"])
    for (const route of JSON.parse(out) as ReadonlyArray<{ dst: string }>) hosts.push(route.dst)
  }
  return hosts.sort()
}

/** One owner record file as the plugin writes it. */
interface RecordFile {
  readonly file: string
  readonly text: string
  readonly containerId: string
  readonly addresses: ReadonlyArray<string>
  readonly pending: ReadonlyArray<string>
}

/**
 * The owner records of a network. Files starting with "." are the store's temporary files (a kill
 * during a write leaves one behind); the store never reads them as records, and neither do we.
 */
const recordsOf = (dataDir: string, key: NetworkKey): ReadonlyArray<RecordFile> =>
  filesUnder(path.join(dataDir, networks[key].name))
    .filter((file) => !path.basename(file).startsWith("."))
    .map((file) => {
      const text = readFileSync(path.join(dataDir, networks[key].name, file), "utf8")
      const record = JSON.parse(text) as {
        containerId: string
        addresses: ReadonlyArray<string>
        pending: ReadonlyArray<string>
      }
      return {
        file,
        text,
        containerId: record.containerId,
        addresses: record.addresses,
        pending: record.pending
      }
    })

/** Run the built plugin with the fault injection variable set; returns the run and how long it took. */
const runWithFault = async (
  ns: Netns,
  env: PluginEnv,
  conf: Record<string, unknown>,
  point: string
): Promise<{ readonly run: PluginRun; readonly millis: number }> => {
  const stdin = JSON.stringify(conf)
  const started = performance.now()
  const result = await ns.exec(nodeBinary, [pluginFile], {
    env: { CNI_ARGS: "", CNI_PATH: path.dirname(pluginFile), ...env, RTIPAM_FAULT_INJECT: point },
    stdin,
    timeoutMs: 30_000
  })
  return { run: { ...result, env, stdin }, millis: performance.now() - started }
}

const add = async ({ ns, dataDir }: Sandbox, key: NetworkKey, containerId: string) =>
  assertAdded(await runPlugin(ns, attachmentEnv(ns, "ADD", containerId), confOf(key, dataDir)), "1.1.0")

/**
 * The invariants after recovery, for network A: every route of ours in A's ranges has an owner
 * record and every record address has its route (no pending left); `holders` are exactly the
 * containers with records. Returns A's hosts.
 */
const assertConsistent = async (
  { ns, dataDir }: Sandbox,
  holders: ReadonlyArray<string>
): Promise<ReadonlyArray<string>> => {
  const routed = (await ourHosts(ns)).filter((host) => inNetwork("a", host))
  const records = recordsOf(dataDir, "a")
  const context = `routes of ours in A: ${JSON.stringify(routed)}; records: ${JSON.stringify(records.map((r) => r.text))}`
  assert.deepStrictEqual(records.map((r) => r.containerId).sort(), [...holders].sort(), context)
  for (const record of records) {
    assert.deepStrictEqual(record.pending, [], `pending left in ${record.file}; ${context}`)
    assert.strictEqual(record.addresses.length, 2, `one address per family in ${record.file}; ${context}`)
  }
  const recorded = records.flatMap((r) => r.addresses).sort()
  assert.deepStrictEqual(
    routed,
    recorded,
    `routes of ours in A must be exactly the recorded addresses; ${context}`
  )
  return routed
}

suite("crash consistency: ADD killed (SIGKILL) at each step, then DEL, GC or ADD", () => {
  beforeAll(assertPluginBuilt)

  it(
    "an unknown RTIPAM_FAULT_INJECT value is refused (code 5) before anything is claimed",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const { run } = await runWithFault(ns, attachmentEnv(ns, "ADD", "x"), confOf("a", dataDir), "sometimes")
      assert.include(assertCniError(run, 5).msg as string, "RTIPAM_FAULT_INJECT")
      assert.deepStrictEqual(await ourHosts(ns), [])
      assert.deepStrictEqual(recordsOf(dataDir, "a"), [])
    })
  )

  for (const point of faultPoints) {
    for (const recovery of ["DEL", "GC", "ADD"] as const) {
      it.concurrent(
        `killed ${point}, recovered by ${recovery}`,
        inSandbox(async (sandbox) => {
          const { ns, dataDir } = sandbox
          // network B (same protocol, other ranges) and a survivor in A
          await add(sandbox, "b", "b1")
          await add(sandbox, "b", "b2")
          await add(sandbox, "a", "a-keep")
          const bRoutes = (await ourHosts(ns)).filter((host) => inNetwork("b", host))
          const bRecords = recordsOf(dataDir, "b").map((r) => r.text)
          assert.strictEqual(bRoutes.length, 4)
          assert.strictEqual(bRecords.length, 2)

          // the crash
          const { run, millis } = await runWithFault(
            ns,
            attachmentEnv(ns, "ADD", "a-crash"),
            confOf("a", dataDir),
            point
          )
          assert.strictEqual(run.code, 128 + 9, `killed by SIGKILL: ${describeRun(run)}`)
          assert.strictEqual(run.stdout, "", describeRun(run))
          if (point === "after-verify") assert.isAtLeast(millis, waitMillis, "killed only after the wait")
          const crashed = recordsOf(dataDir, "a").find((r) => r.containerId === "a-crash")
          assert.isDefined(crashed, "the intent was recorded before anything was claimed")
          // each pool's address is confirmed in the record as soon as it wins: a kill at the second
          // pool's verdict leaves the first confirmed; the ADD is unfinished while anything is pending
          if (point !== "after-verify") assert.deepStrictEqual(crashed!.addresses, [], crashed!.text)
          assert.isAbove(crashed!.pending.length, 0, crashed!.text)
          const routedNow = await ourHosts(ns)
          const pendingRouted = [...crashed!.addresses, ...crashed!.pending].filter((host) =>
            routedNow.includes(host)
          )
          if (point === "after-intent") assert.deepStrictEqual(pendingRouted, [], "killed before the claim")
          else assert.isAbove(pendingRouted.length, 0, `killed after a claim: ${JSON.stringify(routedNow)}`)
          // nothing of ours in A is unexplained even right after the crash
          for (const host of routedNow.filter((h) => inNetwork("a", h))) {
            const owners = recordsOf(dataDir, "a").filter((r) =>
              [...r.addresses, ...r.pending].includes(host)
            )
            assert.strictEqual(owners.length, 1, `route ${host} has exactly one owner record`)
          }

          // the recovery
          let holders: ReadonlyArray<string>
          if (recovery === "DEL") {
            assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "a-crash"), confOf("a", dataDir)))
            holders = ["a-keep"]
          } else if (recovery === "GC") {
            const valid = [{ containerID: "a-keep", ifname: "eth0" }]
            const gc = await runPlugin(
              ns,
              { CNI_COMMAND: "GC" },
              confOf("a", dataDir, { "cni.dev/valid-attachments": valid })
            )
            assertQuietSuccess(gc)
            holders = ["a-keep"]
          } else {
            const ips = await add(sandbox, "a", "a-crash")
            assert.strictEqual(ips.length, 2)
            holders = ["a-keep", "a-crash"]
          }
          const aHosts = await assertConsistent(sandbox, holders)
          if (recovery !== "ADD") {
            for (const host of [...crashed!.addresses, ...crashed!.pending]) {
              assert.notInclude(aHosts, host, "the crashed claim is gone")
            }
          }
          // network B untouched: same routes, same record files byte for byte
          assert.deepStrictEqual(
            (await ourHosts(ns)).filter((host) => inNetwork("b", host)),
            bRoutes,
            "B's routes"
          )
          assert.deepStrictEqual(
            recordsOf(dataDir, "b").map((r) => r.text),
            bRecords,
            "B's records"
          )
        })
      )
    }
  }
})
