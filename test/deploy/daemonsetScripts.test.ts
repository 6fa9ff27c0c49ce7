// The DaemonSet's generated BIRD entries and its BIRD and metrics scripts (render-bird.sh, bird-start.sh, bird-ready.sh, metrics-loop.sh), run with sh against stubs.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { renderDaemonSetBird } from "../../deploy/bird/render.ts"
import {
  daemonSetManifest,
  generatedEntries,
  replaceBlock,
  shippedBirdOptions,
  withGeneratedEntries
} from "../../scripts/daemonset-bird.ts"
import { assertPrometheusText } from "../e2e/support/PrometheusText.ts"
import { hasCommand } from "../support/Privileges.ts"
import { parseYamlDocuments } from "./YamlDocuments.ts"

type Json = Record<string, unknown>
const manifest = () => fs.readFileSync(daemonSetManifest, "utf8")
const documents = () => parseYamlDocuments(manifest()) as ReadonlyArray<Json>
const configMapData = (): Record<string, string> =>
  documents().find((d) => d.kind === "ConfigMap")?.data as Record<string, string>
const containers = (): ReadonlyArray<Json> => {
  const daemonSet = documents().find((d) => d.kind === "DaemonSet") as {
    spec: { template: { spec: { containers: ReadonlyArray<Json>; volumes: ReadonlyArray<Json> } } }
  }
  return daemonSet.spec.template.spec.containers
}

let work = ""
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-ds-scripts-"))
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

/** The ConfigMap's entries as files, as the pod's /config volume holds them. */
const configDir = (): string => {
  const dir = path.join(work, `config-${Math.random().toString(16).slice(2)}`)
  fs.mkdirSync(dir)
  for (const [key, value] of Object.entries(configMapData())) fs.writeFileSync(path.join(dir, key), value)
  return dir
}

/** Run a ConfigMap script with sh, as the pod would, with its paths redirected by env. */
const runScript = (key: string, env: Record<string, string>) => {
  const script = path.join(work, key)
  fs.writeFileSync(script, configMapData()[key] ?? "")
  return spawnSync("sh", [script], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8"
  })
}

/** A fake command on PATH: logs its arguments, then runs `behaviour`. */
const stub = (name: string, behaviour: string): Record<string, string> => {
  const bin = path.join(work, `stub-${Math.random().toString(16).slice(2)}`)
  fs.mkdirSync(bin)
  const log = path.join(bin, "calls.log")
  fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "$*" >> "${log}"\n${behaviour}\n`, { mode: 0o755 })
  return { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, STUB_LOG: log, STUB_DIR: bin }
}
const callsOf = (env: Record<string, string>) =>
  fs
    .readFileSync(env.STUB_LOG ?? "", "utf8")
    .trim()
    .split("\n")

const birdParses = (file: string): boolean | undefined =>
  hasCommand("bird") ? spawnSync("bird", ["-p", "-c", file]).status === 0 : undefined

describe("the ConfigMap's BIRD configuration is generated from deploy/bird/bird.conf", () => {
  it("bird.conf and bird-reflector.conf are exactly what `npm run daemonset:bird` writes (the pod ranges of bridge-dualstack.conflist, both families)", () => {
    const data = configMapData()
    const generated = generatedEntries()
    assert.strictEqual(data["bird.conf"], generated["bird.conf"])
    assert.strictEqual(data["bird-reflector.conf"], generated["bird-reflector.conf"])
    assert.strictEqual(withGeneratedEntries(manifest()), manifest(), "regenerating changes nothing")
    assert.deepStrictEqual(shippedBirdOptions(), {
      podPrefixes4: ["100.64.0.0/16"],
      podPrefixes6: ["fd00:64::/64"],
      routeProtocol: 192
    })
    assert.include(data["bird.conf"], "define POD_HOSTS6 = [ fd00:64::/64{128,128} ];")
  })

  it("negative control: a hand edit of the ConfigMap's bird.conf, or another template, no longer matches", () => {
    const edited = manifest().replace("    metric 32;\n", "    metric 33;\n")
    assert.notStrictEqual(edited, manifest())
    assert.notStrictEqual(withGeneratedEntries(edited), edited)
    const other = renderDaemonSetBird({ ...shippedBirdOptions(), routeProtocol: 193 })
    assert.notStrictEqual(replaceBlock(manifest(), "bird.conf", other.config), manifest())
    assert.throws(() => replaceBlock(manifest(), "no-such-key", "x"), /exactly one/)
  })

  it("renderDaemonSetBird refuses what BIRD could not carry (no IPv6 range, a bad prefix)", () => {
    assert.throws(() => renderDaemonSetBird({ podPrefixes4: ["100.64.0.0/16"], podPrefixes6: [] }), /IPv6/)
    assert.throws(() => renderDaemonSetBird({ podPrefixes4: ["100.64.0.1/16"], podPrefixes6: ["fd00::/64"] }))
  })
})

describe("render-bird.sh", () => {
  const render = (env: Record<string, string>) => {
    const output = path.join(work, `out-${Math.random().toString(16).slice(2)}`, "bird.conf")
    const run = runScript("render-bird.sh", { CONFIG_DIR: configDir(), BIRD_CONFIG: output, ...env })
    return { run, output, text: run.status === 0 ? fs.readFileSync(output, "utf8") : "" }
  }
  const neighbors = (text: string) => [...text.matchAll(/^\s*neighbor (\S+) as/gm)].map((m) => m[1])

  it("a reflector (its address in `reflectors`): the dynamic protocol for the client range, the first reflector as cluster id, a session to the other reflector; IPv6 from NODE_IPS", () => {
    const { run, output, text } = render({ NODE_IP: "198.18.0.2", NODE_IPS: "198.18.0.2,fd00:198:18::2" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.strictEqual(
      run.stdout.trim(),
      `rendered ${output} for 198.18.0.2: reflector, IPv4 and IPv6 (next hop fd00:198:18::2)`
    )
    assert.include(text, "router id 198.18.0.2;")
    assert.include(text, "local 198.18.0.2 as 64512;")
    assert.include(text, "neighbor range 198.18.0.0/24 as 64512;")
    assert.include(text, "rr cluster id 198.18.0.1;")
    assert.include(text, "next hop address fd00:198:18::2;")
    assert.deepStrictEqual(neighbors(text), ["198.18.0.1"])
    assert.notMatch(text, /@[A-Z0-9_]+@|\{\{[A-Z0-9_]+\}\}|^# (BEGIN|END) /m, "no placeholder or marker left")
    assert.notStrictEqual(birdParses(output), false)
  })

  it("a client: one session to each reflector and nothing else; without an IPv6 address, IPv4 only", () => {
    const { run, output, text } = render({ NODE_IP: "198.18.0.7", NODE_IPS: "198.18.0.7" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.stdout, "client, IPv4 only")
    assert.deepStrictEqual(neighbors(text), ["198.18.0.1", "198.18.0.2"])
    assert.notInclude(text, "rr client")
    assert.notInclude(text, "ipv6")
    assert.notMatch(text, /@[A-Z0-9_]+@|^# (BEGIN|END) /m)
    assert.notStrictEqual(birdParses(output), false)
    // a client's configuration does not depend on which other nodes exist: only its own address differs
    const other = render({ NODE_IP: "198.18.0.8", NODE_IPS: "198.18.0.8" })
    assert.strictEqual(other.text.replaceAll("198.18.0.8", "198.18.0.7"), text)
    if (hasCommand("bird")) {
      fs.writeFileSync(`${output}.broken`, text.replace("add paths on;", "add pathz on;"))
      assert.isFalse(birdParses(`${output}.broken`), "bird -p can fail")
    }
  })

  it("refuses a missing NODE_IP, a reflectors list without an address, a bad entry, a bad client range", () => {
    const missing = render({})
    assert.notStrictEqual(missing.run.status, 0)
    assert.include(missing.run.stderr, "NODE_IP")
    const dir = configDir()
    const output = path.join(work, "refused", "bird.conf")
    const withFile = (file: string, content: string) => {
      const copy = path.join(work, `config-${Math.random().toString(16).slice(2)}`)
      fs.cpSync(dir, copy, { recursive: true })
      fs.writeFileSync(path.join(copy, file), content)
      return runScript("render-bird.sh", { CONFIG_DIR: copy, BIRD_CONFIG: output, NODE_IP: "198.18.0.7" })
    }
    const empty = withFile("reflectors", "# none yet\n")
    assert.notStrictEqual(empty.status, 0)
    assert.include(empty.stderr, "no address")
    const bad = withFile("reflectors", "198.18.0.1\nnode-2\n")
    assert.notStrictEqual(bad.status, 0)
    assert.include(bad.stderr, "node-2 is not an IPv4 address")
    const range = withFile("bgp-client-range", "198.18.0.0\n")
    assert.notStrictEqual(range.status, 0)
    assert.include(range.stderr, "bgp-client-range")
    assert.isFalse(fs.existsSync(output), "nothing written")
  })
})

describe("bird-start.sh", () => {
  it("runs BIRD in the foreground with -R on a client, without -R on a reflector (its neighbor-range protocol never converges)", () => {
    const config = path.join(work, "start.conf")
    const start = (text: string) => {
      fs.writeFileSync(config, text)
      const env = stub("bird", "exit 0")
      const run = runScript("bird-start.sh", {
        ...env,
        BIRD_CONFIG: config,
        BIRD_SOCKET: "/run/test/bird.ctl"
      })
      assert.strictEqual(run.status, 0, run.stderr)
      return callsOf(env)
    }
    assert.deepStrictEqual(
      start("protocol bgp peer_198_18_0_1 from mesh {\n  neighbor 198.18.0.1 as LOCAL_AS;\n}\n"),
      [`-f -R -c ${config} -s /run/test/bird.ctl`]
    )
    assert.deepStrictEqual(
      start("protocol bgp clients from mesh {\n  neighbor range 198.18.0.0/24 as 64512;\n}\n"),
      [`-f -c ${config} -s /run/test/bird.ctl`]
    )
  })
})

describe("bird-ready.sh", () => {
  /** `show protocols all` as BIRD 2.0.12 prints it, for the rows given (details trimmed to what matters). */
  const protocolsAll = (rows: ReadonlyArray<string>) =>
    [
      "BIRD 2.0.12 ready.",
      "Name       Proto      Table      State  Since         Info",
      "device1    Device     ---        up     2026-11-29 05:35:11.323  ",
      "",
      "kernel4    Kernel     master4    up     2026-11-29 05:35:11.323  ",
      "  Channel ipv4",
      "    State:          UP",
      "",
      ...rows
    ].join("\n")
  const session = (name: string, state: string, neighbor = "    Neighbor address: 198.18.0.9") => [
    `${name.padEnd(10)} BGP        ---        ${state}`,
    `  BGP state:          ${state.includes("Established") ? "Established" : "Active"}`,
    neighbor,
    "    Neighbor AS:      64512",
    ""
  ]
  const up = "up     2026-11-29 05:35:12.136  Established   "
  const active = "start  2026-11-29 05:35:14.471  Active        Socket: Connection refused"
  const listening = [
    "clients    BGP        ---        start  2026-11-29 05:35:11.323  Passive       ",
    "  BGP state:          Passive",
    "    Neighbor range:   198.18.0.0/24",
    ""
  ]
  const clientConfig =
    "protocol bgp peer_198_18_0_1 from mesh {\n}\nprotocol bgp peer_198_18_0_2 from mesh {\n}\n"
  const reflectorConfig = "protocol bgp clients from mesh {\n}\nprotocol bgp peer_198_18_0_2 from mesh {\n}\n"

  const ready = (config: string, rows: ReadonlyArray<string>, code = 0) => {
    const env = stub("birdc", `cat "$STUB_DIR/out"; exit ${code}`)
    fs.writeFileSync(path.join(env.STUB_DIR ?? "", "out"), `${protocolsAll(rows)}\n`)
    const file = path.join(env.STUB_DIR ?? "", "bird.conf")
    fs.writeFileSync(file, config)
    const run = runScript("bird-ready.sh", { ...env, BIRD_SOCKET: "/run/test/bird.ctl", BIRD_CONFIG: file })
    assert.deepStrictEqual(
      callsOf(env),
      code === 0
        ? ["-s /run/test/bird.ctl show status", "-s /run/test/bird.ctl show protocols all"]
        : ["-s /run/test/bird.ctl show status"]
    )
    return { status: run.status, stdout: run.stdout.trim() }
  }

  it("a client (or a full-mesh node): ready only when every configured session is Established", () => {
    const both = [...session("peer_198_18_0_1", up), ...session("peer_198_18_0_2", up)]
    assert.deepStrictEqual(ready(clientConfig, both), {
      status: 0,
      stdout: "2 of 2 BGP sessions Established"
    })
    const one = [...session("peer_198_18_0_1", up), ...session("peer_198_18_0_2", active)]
    assert.deepStrictEqual(ready(clientConfig, one), { status: 1, stdout: "1 of 2 BGP sessions Established" })
    const down = [
      ...session("peer_198_18_0_1", up),
      ...session("peer_198_18_0_2", "down   2026-11-29 05:35:14.471  ")
    ]
    assert.deepStrictEqual(ready(clientConfig, down), {
      status: 1,
      stdout: "1 of 2 BGP sessions Established"
    })
    // a configured session BIRD does not have (an older configuration loaded) is not Established
    assert.deepStrictEqual(ready(clientConfig, session("peer_198_18_0_1", up)), {
      status: 1,
      stdout: "1 of 2 BGP sessions Established"
    })
    assert.strictEqual(ready("", []).status, 1, "no BGP session at all")
    assert.strictEqual(ready(clientConfig, [], 1).status, 1, "BIRD not answering")
  })

  it("a reflector: the listening neighbor-range protocol never counts, spawned client sessions are reported but do not gate, the static session does", () => {
    const clients = [...session("client1", up), ...session("client2", active)]
    assert.deepStrictEqual(
      ready(reflectorConfig, [...listening, ...session("peer_198_18_0_2", up), ...clients]),
      {
        status: 0,
        stdout: "1 of 1 BGP sessions Established; 1 of 2 client sessions up"
      }
    )
    assert.deepStrictEqual(
      ready(reflectorConfig, [...listening, ...session("peer_198_18_0_2", active), ...clients]),
      {
        status: 1,
        stdout: "0 of 1 BGP sessions Established; 1 of 2 client sessions up"
      }
    )
    // no client yet: ready on the static session alone
    assert.deepStrictEqual(ready(reflectorConfig, [...listening, ...session("peer_198_18_0_2", up)]), {
      status: 0,
      stdout: "1 of 1 BGP sessions Established; 0 of 0 client sessions up"
    })
    // negative control: were the "Neighbor range:" detail missing, the listener would be a configured
    // session that is not Established, and the reflector never ready
    const unmarked = listening.filter((line) => !line.includes("Neighbor range"))
    assert.deepStrictEqual(
      ready(reflectorConfig, [...unmarked, ...session("peer_198_18_0_2", up), ...clients]),
      {
        status: 1,
        stdout: "1 of 2 BGP sessions Established; 1 of 2 client sessions up"
      }
    )
  })

  it("not ready while BIRD is still in graceful restart recovery (started with -R), every session Established or not", () => {
    const env = stub(
      "birdc",
      [
        'case "$*" in',
        '  *"show status") printf "BIRD 2.0.12\\nGraceful restart recovery in progress\\n  Waiting for 2 channels to recover\\nDaemon is up and running\\n" ;;',
        '  *) cat "$STUB_DIR/out" ;;',
        "esac"
      ].join("\n")
    )
    const both = [...session("peer_198_18_0_1", up), ...session("peer_198_18_0_2", up)]
    fs.writeFileSync(path.join(env.STUB_DIR ?? "", "out"), `${protocolsAll(both)}\n`)
    const file = path.join(env.STUB_DIR ?? "", "bird.conf")
    fs.writeFileSync(file, clientConfig)
    const run = runScript("bird-ready.sh", { ...env, BIRD_CONFIG: file })
    assert.strictEqual(run.status, 1)
    assert.strictEqual(
      run.stdout.trim(),
      "2 of 2 BGP sessions Established; graceful restart recovery in progress"
    )
  })

  it("an unreadable configuration is not ready, and says so", () => {
    const env = stub("birdc", "exit 0")
    const run = runScript("bird-ready.sh", { ...env, BIRD_CONFIG: path.join(work, "absent.conf") })
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, "absent.conf")
  })
})

describe("metrics-loop.sh and the metrics container", () => {
  it("the metrics container: metrics-loop.sh, the textfile hostPath /var/lib/node_exporter/textfile_collector, the plugin and records read-only", () => {
    const metrics = containers().find((c) => c.name === "metrics")
    if (metrics === undefined) return assert.fail("no metrics container")
    assert.deepStrictEqual(metrics.command, ["/bin/sh", "/config/metrics-loop.sh"])
    const env = Object.fromEntries(
      (metrics.env as ReadonlyArray<{ name: string; value: string }>).map((e) => [e.name, e.value])
    )
    assert.deepStrictEqual(env, { METRICS_INTERVAL_SECONDS: "30", TEXTFILE_DIR: "/host/textfile" })
    const mounts = metrics.volumeMounts as ReadonlyArray<{
      name: string
      mountPath: string
      readOnly?: boolean
    }>
    const daemonSet = documents().find((d) => d.kind === "DaemonSet") as {
      spec: { template: { spec: { volumes: ReadonlyArray<{ name: string; hostPath?: { path: string } }> } } }
    }
    const hostPathOf = (mountPath: string) => {
      const mount = mounts.find((m) => m.mountPath === mountPath)
      return daemonSet.spec.template.spec.volumes.find((v) => v.name === mount?.name)?.hostPath?.path
    }
    assert.strictEqual(hostPathOf("/host/textfile"), "/var/lib/node_exporter/textfile_collector")
    assert.strictEqual(hostPathOf("/host/opt/cni/bin"), "/opt/cni/bin")
    for (const readOnly of ["/host/opt/cni/bin", "/host/etc/cni/net.d", "/var/lib/cni/routetable-ipam"])
      assert.isTrue(mounts.find((m) => m.mountPath === readOnly)?.readOnly, readOnly)
  })

  const sampleText = "# HELP routetable_ipam_conflicts Conflicts.\n# TYPE routetable_ipam_conflicts gauge\n"

  it("ONCE=1: `list --config DIR --prometheus` of the installed executable into TEXTFILE_DIR/routetable-ipam.prom, no temp file left", () => {
    const textfile = fs.mkdtempSync(path.join(work, "textfile-"))
    const env = stub(
      "routetable-ipam",
      `printf '${sampleText}routetable_ipam_conflicts{network="pods"} 1\\n'`
    )
    const plugin = path.join(env.STUB_DIR ?? "", "routetable-ipam")
    const run = runScript("metrics-loop.sh", { PLUGIN: plugin, TEXTFILE_DIR: textfile, ONCE: "1" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(callsOf(env), ["list --config /host/etc/cni/net.d --prometheus"])
    assert.deepStrictEqual(fs.readdirSync(textfile), ["routetable-ipam.prom"])
    const samples = assertPrometheusText(fs.readFileSync(path.join(textfile, "routetable-ipam.prom"), "utf8"))
    assert.deepStrictEqual(samples, [
      { name: "routetable_ipam_conflicts", labels: '{network="pods"}', value: 1 }
    ])
  })

  it("atomic: while list is half-way through its output the file still holds the previous run's, whole; a failed run leaves it as it was", async () => {
    const textfile = fs.mkdtempSync(path.join(work, "textfile-"))
    const target = path.join(textfile, "routetable-ipam.prom")
    const previous = `${sampleText}routetable_ipam_conflicts{network="pods"} 0\n`
    fs.writeFileSync(target, previous)
    // the fake list writes half its output, waits for the test's go-ahead, then the rest
    const env = stub(
      "routetable-ipam",
      [
        `printf '${sampleText}'`,
        'touch "$STUB_DIR/half"',
        'while [ ! -e "$STUB_DIR/go" ]; do sleep 0.05; done',
        "printf 'routetable_ipam_conflicts{network=\"pods\"} 2\\n'"
      ].join("\n")
    )
    const stubDir = env.STUB_DIR ?? ""
    const script = path.join(work, "metrics-loop.sh")
    fs.writeFileSync(script, configMapData()["metrics-loop.sh"] ?? "")
    const loop = spawn("sh", [script], {
      env: { ...env, PLUGIN: path.join(stubDir, "routetable-ipam"), TEXTFILE_DIR: textfile, ONCE: "1" },
      stdio: "ignore"
    })
    const exited = new Promise<number | null>((resolve) => loop.once("exit", resolve))
    for (let i = 0; i < 200 && !fs.existsSync(path.join(stubDir, "half")); i++) await sleep(25)
    assert.isTrue(fs.existsSync(path.join(stubDir, "half")), "the fake list started")
    const during = fs.readdirSync(textfile)
    assert.strictEqual(fs.readFileSync(target, "utf8"), previous, "mid-run: the previous file, whole")
    assert.isTrue(
      during.some((name) => name !== "routetable-ipam.prom" && !name.endsWith(".prom")),
      `the output goes to a temp file the collector skips (no .prom suffix): ${during.join(", ")}`
    )
    fs.writeFileSync(path.join(stubDir, "go"), "")
    assert.strictEqual(await exited, 0)
    assert.strictEqual(
      fs.readFileSync(target, "utf8"),
      `${sampleText}routetable_ipam_conflicts{network="pods"} 2\n`
    )
    assert.deepStrictEqual(fs.readdirSync(textfile), ["routetable-ipam.prom"])

    // list fails (half its output written): the file keeps the last good run; the temp file is removed
    const failing = stub("routetable-ipam", `printf '${sampleText}'; exit 3`)
    const failed = runScript("metrics-loop.sh", {
      PLUGIN: path.join(failing.STUB_DIR ?? "", "routetable-ipam"),
      TEXTFILE_DIR: textfile,
      ONCE: "1"
    })
    assert.strictEqual(failed.status, 0)
    assert.include(failed.stderr, "exited 3")
    assert.strictEqual(
      fs.readFileSync(target, "utf8"),
      `${sampleText}routetable_ipam_conflicts{network="pods"} 2\n`
    )
    assert.deepStrictEqual(fs.readdirSync(textfile), ["routetable-ipam.prom"])
  })
})
