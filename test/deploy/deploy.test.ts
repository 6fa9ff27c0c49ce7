// deploy/: every JSON and YAML file parses; conflists decode with the plugin's own decoder and work with the
// real bridge plugin; the DaemonSet's structure, images, install step, node settings, gc loop and BIRD rendering are checked.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type { CniEnv } from "../../src/adapters/cni/CniEnv.ts"
import { CniError } from "../../src/adapters/cni/CniError.ts"
import { type CniRequest, decodeRequest, readStdinConf } from "../../src/adapters/cni/CniRequest.ts"
import { contains, type Ip, parseCidr, parseIp } from "../../src/domain/Ip.ts"
import { isAllocatable } from "../../src/domain/Pool.ts"
import { assertPluginBuilt, describeRun, stdoutJson } from "../e2e/support/BuiltPlugin.ts"
import { addressesOn, hasBridgePlugin, makeIpamBinDir, runBridge } from "../e2e/support/BridgeClient.ts"
import { assertOurRoutes } from "../e2e/support/KernelRoutes.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, isRoot, privileged } from "../support/Privileges.ts"
import { parseYamlDocuments } from "./YamlDocuments.ts"
import { birdImage, imageTagPlaceholder, pluginImage, renderDaemonSet } from "../../scripts/build-images.ts"
import { knobDefaults } from "../../src/adapters/cni/IpamKnobs.ts"
import { gcFlags } from "../../src/app/commands/gc.ts"
import { installFlags } from "../../src/app/commands/install.ts"
import { parseWith } from "../app/commands/CliHarness.ts"
import * as Effect from "effect/Effect"

const projectRoot = path.resolve(import.meta.dirname, "../..")
const deployDir = path.join(projectRoot, "deploy")

const filesUnder = (dir: string, pattern: RegExp): ReadonlyArray<string> =>
  fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => pattern.test(name))
    .map((name) => path.join(dir, name))
    .sort()

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

type Json = Record<string, unknown>
const object = (value: unknown, what: string): Json => {
  assert.isTrue(typeof value === "object" && value !== null && !Array.isArray(value), `${what} is an object`)
  return value as Json
}
const array = (value: unknown, what: string): ReadonlyArray<unknown> => {
  assert.isArray(value, `${what} is an array`)
  return value as ReadonlyArray<unknown>
}

const address = (text: string): Ip => Option.getOrThrow(parseIp(text))

const conflists = {
  ipv4: path.join(deployDir, "cni/bridge-ipv4.conflist"),
  dualstack: path.join(deployDir, "cni/bridge-dualstack.conflist")
} as const

/** The config the bridge plugin passes to its IPAM: its own entry plus the list's name and cniVersion. */
const bridgeEntryOf = (conflist: Json): Json => {
  const plugins = array(conflist.plugins, "plugins")
  const bridge = object(
    plugins.find((p) => object(p, "plugin").type === "bridge"),
    "the bridge plugin entry"
  )
  return { cniVersion: conflist.cniVersion, name: conflist.name, ...bridge }
}

const addEnv: CniEnv = {
  command: "ADD",
  containerId: "ctr1",
  ifname: "eth0",
  netns: "/proc/1/ns/net",
  args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
  path: "/opt/cni/bin"
}

/** Decode a plugin config exactly as the plugin does for ADD. */
const decodeAdd = (conf: Json): CniRequest<"ADD"> | CniError => {
  const stdin = readStdinConf(JSON.stringify(conf))
  if (stdin instanceof CniError) return stdin
  const request = decodeRequest(addEnv, stdin)
  if (request instanceof CniError) return request
  assert.strictEqual(request.command, "ADD")
  return request as CniRequest<"ADD">
}

describe("deploy/ files parse", () => {
  it("every JSON file (.json, .conflist) is valid JSON", () => {
    const files = filesUnder(deployDir, /\.(json|conflist)$/)
    assert.isAtLeast(files.length, 2)
    for (const file of files) assert.doesNotThrow(() => readJson(file), file)
  })

  describe("every YAML file", () => {
    it("parses, and every document has apiVersion, kind, metadata.name", () => {
      const files = filesUnder(deployDir, /\.ya?ml$/)
      assert.isAtLeast(files.length, 1)
      for (const file of files) {
        for (const document of parseYamlDocuments(fs.readFileSync(file, "utf8"))) {
          const doc = object(document, file)
          assert.isString(doc.apiVersion, file)
          assert.isString(doc.kind, file)
          assert.isString(object(doc.metadata, `${file} metadata`).name, file)
        }
      }
    })

    it("the parser rejects broken YAML (so the check above can fail)", () => {
      assert.throws(() => parseYamlDocuments("a: [1, 2\nb: {"))
    })
  })
})

describe("deploy/cni conflists, decoded by the plugin's own config decoder", () => {
  for (const [label, file] of Object.entries(conflists)) {
    it(`${label}: cniVersion 1.0.0, the bridge delegates to routetable-ipam, ipam.device is the bridge`, () => {
      const conflist = object(readJson(file), file)
      assert.strictEqual(conflist.cniVersion, "1.0.0")
      const entry = bridgeEntryOf(conflist)
      const ipam = object(entry.ipam, "ipam")
      assert.strictEqual(ipam.type, "routetable-ipam")
      assert.strictEqual(ipam.device, entry.bridge)
      const request = decodeAdd(entry)
      if (request instanceof CniError) return assert.fail(`${request.code}: ${request.msg}`)
      const { network, adapters } = request.settings
      assert.strictEqual(adapters.device, entry.bridge)
      assert.strictEqual(adapters.protocol, 192)
      assert.strictEqual(adapters.table, 254)
      assert.strictEqual(Duration.toMillis(network.policy.propagationTimeout), 250)
      const health = adapters.fabricHealth
      assert.strictEqual(health.type, "bird")
      assert.strictEqual(health.type === "bird" ? health.socket : undefined, "/run/bird/bird.ctl")
      assert.strictEqual(request.settings.onUnhealthy, "fail")
      assert.deepStrictEqual(
        network.pools.map((p) => p.family),
        label === "ipv4" ? [4] : [4, 6]
      )
      const v4 = network.pools[0]!
      assert.isFalse(isAllocatable(v4, address("100.64.0.1")), "the gateway is never handed out")
      assert.isFalse(isAllocatable(v4, address("100.64.0.77")), "100.64.0.0/24 is excluded")
      assert.isTrue(isAllocatable(v4, address("100.64.1.5")))
      assert.isTrue(isAllocatable(v4, address("100.64.255.254")))
      // 65,534 hosts of the /16 minus .0.1-.0.255 (the excluded /24 holds the gateway too)
      assert.strictEqual(v4.size, 65_534n - 255n)
    })
  }

  it("the decoder refuses a broken copy (reserved routeProtocol, device not a name), naming the field", () => {
    const entry = bridgeEntryOf(object(readJson(conflists.ipv4), "conflist"))
    const ipam = object(entry.ipam, "ipam")
    const reserved = decodeAdd({ ...entry, ipam: { ...ipam, routeProtocol: 3 } })
    assert.instanceOf(reserved, CniError)
    assert.strictEqual((reserved as CniError).code, 7)
    assert.match((reserved as CniError).msg, /^ipam\.routeProtocol:/)
    const device = decodeAdd({ ...entry, ipam: { ...ipam, device: "cni/0" } })
    assert.instanceOf(device, CniError)
    assert.match((device as CniError).msg, /^ipam\.device:/)
  })
})

describe("deploy/kubernetes/daemonset.yaml", () => {
  const documents = parseYamlDocuments(
    fs.readFileSync(path.join(deployDir, "kubernetes/daemonset.yaml"), "utf8")
  )
  const byKind = (kind: string): Json =>
    object(
      documents.find((d) => object(d, "document").kind === kind),
      `the ${kind}`
    )
  const configMapData = (): Record<string, string> =>
    object(byKind("ConfigMap").data, "ConfigMap data") as Record<string, string>
  const podSpec = (): Json =>
    object(object(object(byKind("DaemonSet").spec, "spec").template, "template").spec, "pod spec")
  const containerNamed = (name: string): Json => {
    const spec = podSpec()
    const all = [
      ...array(spec.initContainers ?? [], "initContainers"),
      ...array(spec.containers, "containers")
    ]
    return object(
      all.find((c) => object(c, "container").name === name),
      `container ${name}`
    )
  }

  let work = ""
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-deploy-"))
  })
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

  /** Run one of the ConfigMap's scripts with sh, as the pod would, with host paths redirected by env. */
  const runScript = (key: string, env: Record<string, string>) => {
    const script = path.join(work, key)
    fs.writeFileSync(script, configMapData()[key] ?? "")
    return spawnSync("sh", [script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      encoding: "utf8"
    })
  }

  it("a ConfigMap and a DaemonSet in kube-system; the DaemonSet uses the host's network", () => {
    assert.deepStrictEqual(
      documents.map((d) => object(d, "document").kind),
      ["ConfigMap", "DaemonSet"]
    )
    for (const d of documents)
      assert.strictEqual(object(object(d, "doc").metadata, "metadata").namespace, "kube-system")
    const daemonSet = byKind("DaemonSet")
    assert.strictEqual(daemonSet.apiVersion, "apps/v1")
    const spec = object(daemonSet.spec, "spec")
    const selector = object(object(spec.selector, "selector").matchLabels, "matchLabels")
    const labels = object(
      object(object(spec.template, "template").metadata, "template metadata").labels,
      "labels"
    )
    for (const [key, value] of Object.entries(selector))
      assert.strictEqual(labels[key], value, "selector matches the pod labels")
    assert.isTrue(podSpec().hostNetwork)
    assert.deepInclude(array(podSpec().tolerations, "tolerations"), { operator: "Exists" })
  })

  it("every volume mount names a volume; host paths /opt/cni/bin, /etc/cni/net.d, /run/bird; the ConfigMap volume is this ConfigMap", () => {
    const spec = podSpec()
    const volumes = array(spec.volumes, "volumes").map((v) => object(v, "volume"))
    const names = volumes.map((v) => v.name)
    for (const c of [...array(spec.initContainers, "init"), ...array(spec.containers, "containers")]) {
      for (const mount of array(object(c, "container").volumeMounts ?? [], "volumeMounts")) {
        assert.include(names, object(mount, "mount").name)
      }
    }
    const hostPaths = volumes
      .filter((v) => v.hostPath !== undefined)
      .map((v) => object(v.hostPath, "hostPath").path)
    assert.includeMembers(hostPaths, [
      "/opt/cni/bin",
      "/etc/cni/net.d",
      "/run/bird",
      "/var/lib/cni/routetable-ipam"
    ])
    const configVolume = volumes.find((v) => v.configMap !== undefined)
    assert.strictEqual(
      object(configVolume?.configMap, "configMap").name,
      object(byKind("ConfigMap").metadata, "m").name
    )
  })

  it("install-cni is the plugin image's own `install` (no shell): the ConfigMap's conflist into the host directories; render-bird gets NODE_IP from the downward API; bird has NET_ADMIN and /run/bird", () =>
    Effect.gen(function* () {
      const install = containerNamed("install-cni")
      assert.include(array(podSpec().initContainers, "init"), install)
      const installMounts = array(install.volumeMounts, "mounts").map((m) => object(m, "m").mountPath)
      assert.includeMembers(installMounts, ["/host/opt/cni/bin", "/host/etc/cni/net.d", "/config"])
      assert.strictEqual(install.command, undefined, "the image's entrypoint (routetable-ipam install) runs")
      assert.strictEqual(install.image, `localhost/${pluginImage}:${imageTagPlaceholder}`)
      const args = array(install.args, "args") as ReadonlyArray<string>
      const parsed = yield* parseWith(installFlags, args)
      assert.strictEqual(parsed.cniBinDir, "/host/opt/cni/bin")
      assert.strictEqual(parsed.cniConfDir, "/host/etc/cni/net.d")
      assert.deepStrictEqual(parsed.conflist, Option.some("/config/10-routetable-ipam.conflist"))
      assert.include(Object.keys(configMapData()), "10-routetable-ipam.conflist")
      assert.notInclude(Object.keys(configMapData()), "install-cni.sh")

      const render = containerNamed("render-bird")
      const nodeIp = object(
        array(render.env, "env").find((e) => object(e, "env").name === "NODE_IP"),
        "NODE_IP"
      )
      assert.deepStrictEqual(nodeIp.valueFrom, { fieldRef: { fieldPath: "status.hostIP" } })
      const nodeIps = object(
        array(render.env, "env").find((e) => object(e, "env").name === "NODE_IPS"),
        "NODE_IPS"
      )
      // every address of the node: render-bird.sh takes its IPv6 one as the IPv6 next hop
      assert.deepStrictEqual(nodeIps.valueFrom, { fieldRef: { fieldPath: "status.hostIPs" } })
      assert.deepStrictEqual(render.command, ["/bin/sh", "/config/render-bird.sh"])

      const bird = containerNamed("bird")
      assert.include(array(podSpec().containers, "containers"), bird)
      const capabilities = object(
        object(bird.securityContext, "securityContext").capabilities,
        "capabilities"
      )
      assert.include(array(capabilities.add, "add"), "NET_ADMIN")
      const birdMounts = array(bird.volumeMounts, "mounts").map((m) => object(m, "m"))
      assert.isTrue(birdMounts.some((m) => m.mountPath === "/run/bird" && m.readOnly !== true))
      const command = array(bird.command, "command")
      assert.strictEqual(command[command.indexOf("-s") + 1], "/run/bird/bird.ctl")
      assert.strictEqual(command[command.indexOf("-c") + 1], "/etc/bird/bird.conf")
    }))

  it("runs on Linux nodes only; every image is one of the two `npm run images` builds, tagged by the one placeholder", () => {
    assert.deepStrictEqual(podSpec().nodeSelector, { "kubernetes.io/os": "linux" })
    const spec = podSpec()
    const images = [...array(spec.initContainers, "init"), ...array(spec.containers, "containers")].map(
      (c) => object(c, "container").image
    )
    assert.isAtLeast(images.length, 4)
    for (const image of images)
      assert.include(
        [`localhost/${pluginImage}:${imageTagPlaceholder}`, `localhost/${birdImage}:${imageTagPlaceholder}`],
        image
      )
  })

  it("renderDaemonSet fills the tag (and a registry) into every image and leaves no placeholder; a bad tag is refused", () => {
    const text = fs.readFileSync(path.join(deployDir, "kubernetes/daemonset.yaml"), "utf8")
    const rendered = renderDaemonSet(text, "0.1.0-abc1234", "registry.example/net")
    assert.notInclude(rendered, imageTagPlaceholder)
    const spec = object(
      object(
        object(
          object(
            parseYamlDocuments(rendered).find((d) => object(d, "d").kind === "DaemonSet"),
            "DaemonSet"
          ).spec,
          "spec"
        ).template,
        "template"
      ).spec,
      "pod spec"
    )
    const images = new Set(
      [...array(spec.initContainers, "init"), ...array(spec.containers, "containers")].map(
        (c) => object(c, "container").image
      )
    )
    assert.deepStrictEqual([...images].sort(), [
      `registry.example/net/${birdImage}:0.1.0-abc1234`,
      `registry.example/net/${pluginImage}:0.1.0-abc1234`
    ])
    assert.include(renderDaemonSet(text, "0.1.0-abc1234"), `localhost/${pluginImage}:0.1.0-abc1234`)
    assert.throws(() => renderDaemonSet(text, "bad tag"))
  })

  it("node-sysctls: privileged; forwarding at once, proxy ARP (no delay) on the bridge once it exists", () => {
    const sysctls = containerNamed("node-sysctls")
    assert.deepStrictEqual(sysctls.command, ["/bin/sh", "/config/node-sysctls.sh"])
    assert.isTrue(object(sysctls.securityContext, "securityContext").privileged)
    const bridge = object(
      array(sysctls.env, "env").find((e) => object(e, "env").name === "BRIDGE"),
      "BRIDGE"
    ).value
    const conflist = object(JSON.parse(configMapData()["10-routetable-ipam.conflist"] ?? ""), "conflist")
    assert.strictEqual(bridge, bridgeEntryOf(conflist).bridge, "the conflist's bridge")

    const sys = path.join(work, "sys")
    const file = (name: string, value: string) => {
      fs.mkdirSync(path.dirname(path.join(sys, name)), { recursive: true })
      fs.writeFileSync(path.join(sys, name), `${value}\n`)
    }
    const read = (name: string) => fs.readFileSync(path.join(sys, name), "utf8").trim()
    file("net/ipv4/ip_forward", "0")
    file("net/ipv6/conf/all/forwarding", "0")
    const env = { SYSCTL_ROOT: sys, BRIDGE: "cni0", ONCE: "1" }
    const before = runScript("node-sysctls.sh", env)
    assert.strictEqual(before.status, 0, before.stderr)
    assert.strictEqual(read("net/ipv4/ip_forward"), "1")
    assert.strictEqual(read("net/ipv6/conf/all/forwarding"), "1")
    assert.isFalse(fs.existsSync(path.join(sys, "net/ipv4/conf/cni0")), "no bridge yet: nothing created")
    file("net/ipv4/conf/cni0/proxy_arp", "0")
    file("net/ipv4/neigh/cni0/proxy_delay", "80")
    const after = runScript("node-sysctls.sh", env)
    assert.strictEqual(after.status, 0, after.stderr)
    assert.strictEqual(read("net/ipv4/conf/cni0/proxy_arp"), "1")
    assert.strictEqual(read("net/ipv4/neigh/cni0/proxy_delay"), "0")
    assert.include(after.stdout, "net/ipv4/conf/cni0/proxy_arp = 1")
    assert.notInclude(after.stdout, "ip_forward", "a value already right is not rewritten")
  })

  it("gc: the installed executable's `gc --config /host/etc/cni/net.d --grace 5m` in a loop, with the data directory and NET_ADMIN", () =>
    Effect.gen(function* () {
      const gc = containerNamed("gc")
      assert.include(array(podSpec().containers, "containers"), gc)
      assert.deepStrictEqual(gc.command, ["/bin/sh", "/config/gc-loop.sh"])
      const capabilities = object(object(gc.securityContext, "securityContext").capabilities, "capabilities")
      assert.include(array(capabilities.add, "add"), "NET_ADMIN")
      const mounts = array(gc.volumeMounts, "mounts").map((m) => object(m, "m"))
      const volumes = array(podSpec().volumes, "volumes").map((v) => object(v, "volume"))
      const hostPathOf = (mountPath: string) => {
        const mount = mounts.find((m) => m.mountPath === mountPath)
        const volume = volumes.find((v) => v.name === mount?.name)
        return object(volume?.hostPath, `hostPath of ${mountPath}`).path
      }
      assert.strictEqual(hostPathOf("/var/lib/cni/routetable-ipam"), knobDefaults.dataDir)
      assert.strictEqual(hostPathOf("/host/opt/cni/bin"), "/opt/cni/bin")
      assert.strictEqual(hostPathOf("/host/etc/cni/net.d"), "/etc/cni/net.d")

      const calls = path.join(work, "gc-calls")
      const fake = path.join(work, "fake-plugin")
      fs.writeFileSync(fake, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 })
      const env: Record<string, string> = { PLUGIN: fake, ONCE: "1" }
      for (const e of array(gc.env, "env")) {
        const { name, value } = object(e, "env")
        env[String(name)] = String(value)
      }
      const run = runScript("gc-loop.sh", env)
      assert.strictEqual(run.status, 0, run.stderr)
      const called = fs.readFileSync(calls, "utf8").trim()
      assert.strictEqual(called, "gc --config /host/etc/cni/net.d --grace 5m")
      const parsed = yield* parseWith(gcFlags, called.split(" ").slice(1))
      assert.strictEqual(parsed.grace, 5 * 60_000)
      assert.strictEqual(parsed.config, "/host/etc/cni/net.d")
    }))

  it("the ConfigMap's conflist is deploy/cni/bridge-ipv4.conflist", () => {
    assert.deepStrictEqual(
      JSON.parse(configMapData()["10-routetable-ipam.conflist"] ?? ""),
      readJson(conflists.ipv4)
    )
  })

  it("the ConfigMap's bird.conf keeps deploy/bird/bird.conf's essentials (ADD-PATH, our protocol, metric 32, graceful restart and its stale-route time, ms time formats)", () => {
    const ours = configMapData()["bird.conf"] ?? ""
    const template = fs.readFileSync(path.join(deployDir, "bird/bird.conf"), "utf8")
    for (const line of [
      "learn;",
      "metric 32;",
      "graceful restart on;",
      "graceful restart time 120;",
      "long lived graceful restart on;",
      "long lived stale time 3600;",
      "timeformat protocol iso long ms;",
      "timeformat base iso long ms;",
      "add paths on;",
      "direct;",
      "export where source = RTS_BGP;",
      "if krt_source = OUR_PROTOCOL && net ~ POD_HOSTS4 then accept;"
    ]) {
      assert.include(template, line, "the template still says so")
      assert.include(ours, line)
    }
    assert.include(ours, "define OUR_PROTOCOL = 192;")
    assert.include(ours, "define POD_HOSTS4 = [ 100.64.0.0/16{32,32} ];")
  })

  it("the bird container: preStop runs bird-prestop.sh (graceful restart), readiness runs bird-ready.sh (BGP sessions), TZ=UTC, /config mounted", () => {
    const bird = containerNamed("bird")
    const preStop = object(object(bird.lifecycle, "lifecycle").preStop, "preStop")
    assert.deepStrictEqual(preStop.exec, { command: ["/bin/sh", "/config/bird-prestop.sh"] })
    assert.deepStrictEqual(object(bird.readinessProbe, "readinessProbe").exec, {
      command: ["/bin/sh", "/config/bird-ready.sh"]
    })
    assert.deepInclude(array(bird.env, "env"), { name: "TZ", value: "UTC" })
    const mounts = array(bird.volumeMounts, "mounts").map((m) => object(m, "m"))
    assert.isTrue(mounts.some((m) => m.name === "config" && m.mountPath === "/config"))
    // bird-start.sh runs BIRD (with -R on a client: daemonsetScripts.test.ts)
    assert.deepStrictEqual(bird.command, ["/bin/sh", "/config/bird-start.sh"])
    // the preStop has time to finish
    assert.isAtLeast(Number(podSpec().terminationGracePeriodSeconds), 20)
  })

  /** A fake `birdc` on PATH: logs its arguments, answers from files, as the scripts' tests need. */
  const stubBirdc = (behaviour: string): Record<string, string> => {
    const bin = path.join(work, `stub-${Math.random().toString(16).slice(2)}`)
    fs.mkdirSync(bin)
    const log = path.join(bin, "calls.log")
    fs.writeFileSync(path.join(bin, "birdc"), `#!/bin/sh\necho "$*" >> "${log}"\n${behaviour}\n`, {
      mode: 0o755
    })
    return { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, STUB_LOG: log, STUB_DIR: bin }
  }
  const callsOf = (env: Record<string, string>) =>
    fs
      .readFileSync(env.STUB_LOG ?? "", "utf8")
      .trim()
      .split("\n")

  it("bird-prestop.sh: `birdc graceful restart`, then waits until BIRD stops answering; nothing to do when BIRD is not running", () => {
    // BIRD answers `show status` twice more after the graceful restart, then is gone
    const env = stubBirdc(
      [
        'case "$*" in',
        '  *"graceful restart") echo "Graceful restart requested"; echo 2 > "$STUB_DIR/left" ;;',
        '  *"show status") left=$(cat "$STUB_DIR/left"); [ "$left" -gt 0 ] || exit 1; echo $((left - 1)) > "$STUB_DIR/left" ;;',
        "esac"
      ].join("\n")
    )
    const run = runScript("bird-prestop.sh", { ...env, BIRD_SOCKET: "/run/test/bird.ctl" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(callsOf(env), [
      "-s /run/test/bird.ctl graceful restart",
      "-s /run/test/bird.ctl show status",
      "-s /run/test/bird.ctl show status",
      "-s /run/test/bird.ctl show status"
    ])
    const gone = stubBirdc("exit 1")
    const none = runScript("bird-prestop.sh", gone)
    assert.strictEqual(none.status, 0)
    assert.deepStrictEqual(callsOf(gone), ["-s /run/bird/bird.ctl graceful restart"])
  })
})

privileged(
  "needs root, a private network namespace and Debian's bridge plugin (`apt-get install containernetworking-plugins`)",
  isRoot() && canUnshareNet() && hasBridgePlugin()
)("deploy/cni conflists through the real bridge plugin (private namespaces)", () => {
  let ipamBinDir = ""
  let dataRoot = ""
  beforeAll(() => {
    assertPluginBuilt()
    ipamBinDir = makeIpamBinDir()
    dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-deploy-data-"))
  })
  afterAll(() => {
    for (const dir of [ipamBinDir, dataRoot]) if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
  })

  for (const [label, file] of Object.entries(conflists)) {
    it(`${label}: ADD gives one address per range on eth0 and a host route via cni0; DEL removes it`, async () => {
      const entry = bridgeEntryOf(object(readJson(file), file))
      const ipam = object(entry.ipam, "ipam")
      // only what is host-specific changes: nothing is written to the host's /var, and no BIRD runs
      // here (with the shipped fabricHealth, ADD refuses with code 11: nothing would carry the claims)
      const conf = {
        ...entry,
        ipam: {
          ...ipam,
          dataDir: path.join(dataRoot, label),
          log: { file: path.join(dataRoot, `${label}.log`) },
          fabricHealth: { type: "none" }
        }
      }
      const host = await Netns.create()
      try {
        const container = await host.createChild()
        const call = { containerId: `deploy-${label}`, netns: container.path, ipamBinDir }
        const added = await runBridge(host, { ...call, command: "ADD" }, conf)
        assert.strictEqual(added.code, 0, describeRun(added))
        const result = stdoutJson(added) as { ips: ReadonlyArray<{ address: string; gateway?: string }> }
        const ranges = array(ipam.ranges, "ranges").map((set) => object(array(set, "set")[0], "range"))
        assert.lengthOf(result.ips, ranges.length, describeRun(added))
        const hosts: Array<string> = []
        for (const [i, range] of ranges.entries()) {
          const given = result.ips[i]!
          const subnet = Option.getOrThrow(parseCidr(String(range.subnet)))
          const [text, length] = given.address.split("/")
          assert.strictEqual(Number(length), subnet.length, given.address)
          assert.isTrue(contains(subnet, address(text!)), `${given.address} in ${String(range.subnet)}`)
          assert.strictEqual(given.gateway, range.gateway)
          hosts.push(text!)
        }
        const v4 = result.ips.find((ipConfig) => !ipConfig.address.includes(":"))!
        assert.deepStrictEqual(await addressesOn(container, "eth0"), [v4.address])
        await assertOurRoutes(host, hosts, "cni0")
        const deleted = await runBridge(host, { ...call, command: "DEL" }, { ...conf, prevResult: result })
        assert.strictEqual(deleted.code, 0, describeRun(deleted))
        await assertOurRoutes(host, [], "cni0")
      } finally {
        await host.close()
      }
    })
  }
})
