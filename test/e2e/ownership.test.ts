// Issue 8 scenarios 1-3 and 7 with the built plugin on a real kernel: no live container ever loses its route to a reboot's leftovers, a refused ADD, a GC or a corrupt record.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, it } from "@effect/vitest"
import { canUnshareNet, privileged } from "../support/Privileges.ts"
import {
  assertAdded,
  assertCniError,
  assertPluginBuilt,
  assertQuietSuccess,
  attachmentEnv,
  hostOf,
  nodeBinary,
  pluginFile,
  runPlugin
} from "./support/BuiltPlugin.ts"
import { ourRoutes } from "./support/KernelRoutes.ts"
import { leftBehind } from "./support/PluginConfig.ts"
import { inSandbox, type Sandbox } from "./support/Sandbox.ts"

const suite = privileged("needs a private network namespace (`unshare -rn`)", canUnshareNet())

const conf = (dataDir: string, subnet: string, extra?: Readonly<Record<string, unknown>>) => ({
  cniVersion: "1.1.0",
  name: "pods",
  type: "bridge",
  ...extra,
  ipam: { type: "routetable-ipam", dataDir, ranges: [[{ subnet }]], propagationTimeout: "20ms" }
})

const ourHosts = async ({ ns }: Sandbox) => (await ourRoutes(ns)).map((r) => r.dst).sort()

const add = async (sandbox: Sandbox, id: string, subnet: string, extra?: Readonly<Record<string, unknown>>) =>
  runPlugin(sandbox.ns, attachmentEnv(sandbox.ns, "ADD", id), conf(sandbox.dataDir, subnet, extra))

const recordFile = (dataDir: string, id: string) => path.join(dataDir, "pods", `${id}@eth0.json`)

/** What a node reboot does: every route is gone; records on disk stay, stamped with the old boot. */
const reboot = async ({ ns, dataDir }: Sandbox) => {
  await ns.run("ip", ["-4", "route", "flush", "proto", "192"])
  for (const name of readdirSync(path.join(dataDir, "pods")).filter(
    (n) => n.endsWith(".json") && !n.startsWith(".")
  )) {
    const file = path.join(dataDir, "pods", name)
    const record = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
    writeFileSync(file, `${JSON.stringify({ ...record, boot: "00000000-0000-4000-8000-000000000000" })}\n`)
  }
}

const gcCommand = async ({ ns, dataDir }: Sandbox, subnet: string, ...args: ReadonlyArray<string>) => {
  const file = path.join(dataDir, "pods.conflist")
  const { ipam } = conf(dataDir, subnet)
  writeFileSync(
    file,
    JSON.stringify({ cniVersion: "1.0.0", name: "pods", plugins: [{ type: "bridge", ipam }] })
  )
  return ns.exec(nodeBinary, [pluginFile, "gc", "--config", file, ...args], { timeoutMs: 30_000 })
}

suite("issue 8 on a real kernel: ownership-safe release", () => {
  beforeAll(assertPluginBuilt)

  it(
    "1. records outlive routes: after a reboot, DEL of the old container, CNI GC and gc --keep leave the new owner's route",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const x = hostOf(assertAdded(await add(sandbox, "x", "100.64.0.0/29"), "1.1.0")[0]!)
      await reboot(sandbox)
      assert.deepStrictEqual(await ourHosts(sandbox), [])
      // after the reboot Y gets X's old address
      const y = hostOf(
        assertAdded(await add(sandbox, "y", "100.64.0.0/29", { runtimeConfig: { ips: [x] } }), "1.1.0")[0]!
      )
      assert.strictEqual(y, x)
      // the runtime cleans the pre-reboot sandbox X: Y's route must stay
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "x"), conf(dataDir, "100.64.0.0/29")))
      assert.deepStrictEqual(await ourHosts(sandbox), [x])
      // the same stale record, then CNI GC and gc --keep: Y stays
      assertAdded(await add(sandbox, "x", "100.64.0.0/29"), "1.1.0")
      await reboot(sandbox)
      assertAdded(await add(sandbox, "y", "100.64.0.0/29", { runtimeConfig: { ips: [x] } }), "1.1.0")
      assertQuietSuccess(
        await runPlugin(
          ns,
          { CNI_COMMAND: "GC" },
          conf(dataDir, "100.64.0.0/29", {
            "cni.dev/valid-attachments": [{ containerID: "y", ifname: "eth0" }]
          })
        )
      )
      assert.deepStrictEqual(await ourHosts(sandbox), [x])
      const keep = await gcCommand(sandbox, "100.64.0.0/29", "--keep", "y/eth0", "--grace", "0")
      assert.strictEqual(keep.code, 0, keep.stderr)
      assert.deepStrictEqual(await ourHosts(sandbox), [x])
      // a plain gc forgets a stale record without touching a route
      assertAdded(await add(sandbox, "x2", "100.64.0.0/29"), "1.1.0")
      const x2 = (await ourHosts(sandbox)).filter((h) => h !== x)
      await reboot(sandbox)
      assertAdded(await add(sandbox, "z", "100.64.0.0/29", { runtimeConfig: { ips: x2 } }), "1.1.0")
      const plain = await gcCommand(sandbox, "100.64.0.0/29", "--grace", "0")
      assert.strictEqual(plain.code, 0, plain.stderr)
      assert.include(plain.stdout, "forgot record x2/eth0 (written before the last reboot; no route touched)")
      assert.deepStrictEqual(await ourHosts(sandbox), [...x2].sort())
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "x2"), conf(dataDir, "100.64.0.0/29")))
      assert.deepStrictEqual(await ourHosts(sandbox), [...x2].sort())
    })
  )

  it(
    "2. two ADDs race for the last free address: the refused one never releases the winner's route (12 trials)",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      // a /30 has two addresses; one is taken by a learned route, so one is free
      await ns.run("ip", ["route", "add", "100.64.0.1/32", "dev", "lo", "proto", "12", "metric", "32"])
      for (let trial = 0; trial < 12; trial++) {
        const [a, b] = await Promise.all([
          add(sandbox, `a${trial}`, "100.64.0.0/30"),
          add(sandbox, `b${trial}`, "100.64.0.0/30")
        ])
        const won = [a, b].filter((r) => r.code === 0)
        assert.strictEqual(won.length, 1, `exactly one wins: ${a.stdout} / ${b.stdout}`)
        const lost = a.code === 0 ? b : a
        assertCniError(lost, 100)
        const address = hostOf(assertAdded(won[0]!, "1.1.0")[0]!)
        assert.deepStrictEqual(
          await ourHosts(sandbox),
          [`${address}`],
          `trial ${trial}: the winner keeps its route`
        )
        const winner = a.code === 0 ? `a${trial}` : `b${trial}`
        const loser = a.code === 0 ? `b${trial}` : `a${trial}`
        // the runtime DELs the failed one: still nothing of the winner's goes
        assertQuietSuccess(
          await runPlugin(ns, attachmentEnv(ns, "DEL", loser), conf(dataDir, "100.64.0.0/30"))
        )
        assert.deepStrictEqual(await ourHosts(sandbox), [address])
        assertQuietSuccess(
          await runPlugin(ns, attachmentEnv(ns, "DEL", winner), conf(dataDir, "100.64.0.0/30"))
        )
        assert.deepStrictEqual(await ourHosts(sandbox), [])
      }
    }),
    120_000
  )

  it(
    "3. GC races ADD: CNI GC (listing every container it knows) and gc run beside 24 ADDs in a /16 with 20,000 other routes; every successful ADD keeps its route",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      // 20,000 learned routes make every full read of the table slow, which widens the window
      // between a GC's read of the records and its read of the routes (where the old GC lost ADDs)
      const batch = Array.from(
        { length: 20_000 },
        (_, i) => `route add 100.64.${128 + Math.floor(i / 250)}.${i % 250}/32 dev lo proto 12 metric 32`
      ).join("\n")
      const loaded = await ns.exec("ip", ["-batch", "-"], { stdin: `${batch}\n`, timeoutMs: 60_000 })
      assert.strictEqual(loaded.code, 0, loaded.stderr)
      const ids = Array.from({ length: 24 }, (_, i) => `c${i}`)
      const valid = ids.map((id) => ({ containerID: id, ifname: "eth0" }))
      const subnet = "100.64.0.0/16"
      let stop = false
      const collect = async () => {
        let rounds = 0
        while (!stop) {
          await runPlugin(
            ns,
            { CNI_COMMAND: "GC" },
            conf(dataDir, subnet, { "cni.dev/valid-attachments": valid })
          )
          await gcCommand(sandbox, subnet, "--grace", "0")
          rounds++
        }
        return rounds
      }
      const collectors = Promise.all([collect(), collect()])
      const runs: Array<Awaited<ReturnType<typeof add>>> = []
      for (const group of [ids.slice(0, 12), ids.slice(12)]) {
        runs.push(...(await Promise.all(group.map((id) => add(sandbox, id, subnet)))))
      }
      stop = true
      const rounds = (await collectors).reduce((a, b) => a + b, 0)
      assert.isAbove(rounds, 1)
      const held = runs.filter((r) => r.code === 0).map((r) => hostOf(assertAdded(r, "1.1.0")[0]!))
      assert.isAbove(held.length, 12, runs.map((r) => r.stdout).join("\n"))
      assert.strictEqual(new Set(held).size, held.length, "no address handed out twice")
      const routed = await ourHosts(sandbox)
      const lost = held.filter((address) => !routed.includes(address))
      assert.deepStrictEqual(
        lost,
        [],
        `${lost.length} of ${held.length} successful ADDs lost their route (${rounds} GC rounds)`
      )
    }),
    240_000
  )

  it(
    "a failed dual-stack ADD (one pool refused) leaves no record, no temporary file and no route (5 trials)",
    inSandbox(async ({ ns, dataDir }) => {
      await ns.run("ip", ["route", "add", "100.64.0.5/32", "dev", "lo", "proto", "12", "metric", "32"])
      const dual = {
        cniVersion: "1.1.0",
        name: "pods",
        type: "bridge",
        runtimeConfig: { ips: ["100.64.0.5"] },
        ipam: {
          type: "routetable-ipam",
          dataDir,
          ranges: [[{ subnet: "100.64.0.0/29" }], [{ subnet: "fd00:64::/120" }]],
          propagationTimeout: "20ms"
        }
      }
      for (let trial = 0; trial < 5; trial++) {
        assertCniError(await runPlugin(ns, attachmentEnv(ns, "ADD", `d${trial}`), dual), 101)
        const left = leftBehind(dataDir)
        assert.deepStrictEqual(
          left.filter((f) => f !== "pods"),
          [],
          `trial ${trial}: ${JSON.stringify(left)}`
        )
        assert.deepStrictEqual(await ourHosts({ ns, dataDir }), [])
      }
    })
  )

  it(
    "6. settings that silently void safety are refused with 7 naming the field, and leave nothing behind",
    inSandbox(async ({ ns, dataDir }) => {
      const cases: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
        [{ propagationTimeout: 0 }, /^ipam\.propagationTimeout: .*below the floor of 20 ms/],
        [{ propagationTimeout: "5ms" }, /^ipam\.propagationTimeout: /],
        [{ metric: 32 }, /^ipam\.metric: /],
        [{ metric: 1024 }, /^ipam\.metric: /],
        [
          { propagationTimout: "5s" },
          /^ipam\.propagationTimout: unknown key; did you mean propagationTimeout\?/
        ]
      ]
      for (const [knob, message] of cases) {
        const base = conf(dataDir, "100.64.0.0/29")
        const run = await runPlugin(ns, attachmentEnv(ns, "ADD", "c"), {
          ...base,
          ipam: { ...base.ipam, ...knob }
        })
        assert.match(assertCniError(run, 7).msg as string, message, JSON.stringify(knob))
        assert.deepStrictEqual(await ourHosts({ ns, dataDir }), [], JSON.stringify(knob))
        assert.deepStrictEqual(readdirSync(dataDir), [], JSON.stringify(knob))
      }
      // unrelated unknown keys stay ignored, as host-local does
      const base = conf(dataDir, "100.64.0.0/29")
      const run = await runPlugin(ns, attachmentEnv(ns, "ADD", "c"), {
        ...base,
        ipam: { ...base.ipam, vendorExtension: 1 }
      })
      assertAdded(run, "1.1.0")
    })
  )

  it(
    "7. a corrupt record is moved aside: DEL succeeds, its address stays held, list shows it, gc keeps it",
    inSandbox(async (sandbox) => {
      const { ns, dataDir } = sandbox
      const address = hostOf(assertAdded(await add(sandbox, "c", "100.64.0.0/29"), "1.1.0")[0]!)
      writeFileSync(recordFile(dataDir, "c"), '{"containerId": "c", "addresses": ["' + address + '"')
      assertQuietSuccess(await runPlugin(ns, attachmentEnv(ns, "DEL", "c"), conf(dataDir, "100.64.0.0/29")))
      assert.deepStrictEqual(await ourHosts(sandbox), [address], "the address stays held")
      const moved = readdirSync(path.join(dataDir, "pods")).filter((n) => n.startsWith(".corrupt."))
      assert.strictEqual(moved.length, 1, "kept for the operator")
      const gc = await gcCommand(sandbox, "100.64.0.0/29", "--grace", "0")
      assert.strictEqual(gc.code, 0, gc.stderr)
      assert.deepStrictEqual(
        await ourHosts(sandbox),
        [address],
        "gc never releases what a corrupt record names"
      )
      const file = path.join(dataDir, "pods.conflist")
      const listed = await ns.exec(nodeBinary, [pluginFile, "list", "--config", file], { timeoutMs: 30_000 })
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.match(
        listed.stdout,
        new RegExp(`${address.replaceAll(".", "\\.")} .*c/eth0 \\(corrupt\\).*corrupt`)
      )
      // no other container gets it either
      for (let i = 0; i < 5; i++) {
        const run = await add(sandbox, `n${i}`, "100.64.0.0/29")
        if (run.code === 0) assert.notStrictEqual(hostOf(assertAdded(run, "1.1.0")[0]!), address)
      }
    })
  )
})
