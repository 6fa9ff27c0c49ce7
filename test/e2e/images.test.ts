// The images npm run images builds (podman, offline, FROM scratch): the installer image installs onto host directories; the BIRD image's bird peers with a BIRD of the lab.
import { type ChildProcess, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { renderBirdConfig } from "../../deploy/bird/render.ts"
import { birdExecutables, buildImages, daemonSetFile, renderDaemonSet } from "../../scripts/build-images.ts"
import { parseYamlDocuments } from "../deploy/YamlDocuments.ts"
import { checkConflist, installedBinaryName, installedConflistName } from "../../src/app/commands/install.ts"
import { Netns } from "../support/Netns.ts"
import { canUnshareNet, hasCommand, isRoot, privileged } from "../support/Privileges.ts"
import { assertPrometheusText } from "./support/PrometheusText.ts"
import { canBuildSea, ensureSea } from "./support/SeaBuild.ts"

const available =
  isRoot() && canUnshareNet() && hasCommand("podman") && canBuildSea() && birdExecutables.every(fs.existsSync)

/** podman's storage and configuration, private to this test (vfs, no cgroups: LAB.md section 3). */
const podmanHome = (root: string): Record<string, string> => {
  const storage = path.join(root, "storage.conf")
  const containers = path.join(root, "containers.conf")
  fs.writeFileSync(
    storage,
    `[storage]\ndriver = "vfs"\ngraphroot = "${root}/graph"\nrunroot = "${root}/run"\n`
  )
  fs.writeFileSync(
    containers,
    [
      "[containers]",
      'cgroups = "disabled"',
      'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "none"',
      `tmp_dir = "${root}/tmp"`,
      "[network]",
      'network_backend = "cni"',
      ""
    ].join("\n")
  )
  return { CONTAINERS_STORAGE_CONF: storage, CONTAINERS_CONF: containers }
}

/**
 * `podman ARGS...` in a private mount namespace without the cgroup v1 `unified` mount (crun refuses
 * hybrid cgroups here; LAB.md section 3). Never changes the machine's mounts.
 */
const podmanArgs = (args: ReadonlyArray<string>): Array<string> => [
  "-m",
  "--propagation",
  "private",
  "sh",
  "-c",
  'umount /sys/fs/cgroup/unified 2>/dev/null; exec podman "$@"',
  "sh",
  ...args
]

let root = ""
let env: Record<string, string> = {}
let images = { plugin: "", bird: "" }
let buildMillis = 0

const podman = (args: ReadonlyArray<string>, timeout = 60_000) =>
  spawnSync("unshare", podmanArgs(args), {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout
  })

privileged("needs root, unshare, podman, postject and Debian's bird2", available)("images (podman)", () => {
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-e2e-images-"))
    fs.mkdirSync(path.join(root, "tmp"))
    env = podmanHome(root)
    const sea = ensureSea()
    Object.assign(process.env, env)
    const started = performance.now()
    try {
      images = buildImages({ sea })
    } finally {
      for (const key of Object.keys(env)) delete process.env[key]
    }
    buildMillis = performance.now() - started
  }, 180_000)

  afterAll(() => {
    if (root === "") return
    // vfs layers are plain directories owned by this test
    fs.rmSync(root, { recursive: true, force: true })
  })

  it("both images are tagged <version>-<commit> and hold no shell", () => {
    const { version } = JSON.parse(
      fs.readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8")
    )
    for (const image of [images.plugin, images.bird])
      assert.match(image, new RegExp(`:${version}-[0-9a-f]{7,}`))
    const listed = podman(["images", "--format", "{{.Repository}}:{{.Tag}}"])
    assert.strictEqual(listed.status, 0, listed.stderr)
    for (const image of [images.plugin, images.bird]) assert.include(listed.stdout, `localhost/${image}`)
    const shell = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "/bin/sh",
      images.plugin,
      "-c",
      "true"
    ])
    assert.notStrictEqual(shell.status, 0, "the plugin image has no /bin/sh")
    console.log(`images built in ${Math.round(buildMillis)} ms`)
  })

  it("the installer image installs the executable and the conflist into bind-mounted host directories", () => {
    const binDir = path.join(root, "host/opt/cni/bin")
    const confDir = path.join(root, "host/etc/cni/net.d")
    fs.mkdirSync(binDir, { recursive: true })
    fs.mkdirSync(confDir, { recursive: true })
    const run = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${binDir}:/host/opt/cni/bin`,
      "-v",
      `${confDir}:/host/etc/cni/net.d`,
      images.plugin
    ])
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.stdout, "installed /host/opt/cni/bin/routetable-ipam")
    const binary = path.join(binDir, installedBinaryName)
    assert.strictEqual(fs.statSync(binary).mode & 0o777, 0o755)
    const version = spawnSync("/usr/bin/env", ["-i", `TMPDIR=${root}/tmp`, "CNI_COMMAND=VERSION", binary], {
      encoding: "utf8"
    })
    assert.strictEqual(version.status, 0, version.stderr)
    assert.include(JSON.parse(version.stdout).supportedVersions, "1.0.0")
    const conflist = fs.readFileSync(path.join(confDir, installedConflistName), "utf8")
    assert.deepStrictEqual(checkConflist(conflist), { networks: ["pods"] })
  })

  it("the DaemonSet's BIRD-image steps work in the image: render-bird.sh renders a config bird -p accepts; the gc loop's installed executable runs there", () => {
    const manifest = fs.readFileSync(daemonSetFile, "utf8")
    const configMap = parseYamlDocuments(manifest)[0] as { data: Record<string, string> }
    const config = path.join(root, "cm")
    fs.mkdirSync(config)
    for (const [key, value] of Object.entries(configMap.data)) fs.writeFileSync(path.join(config, key), value)
    const etcBird = path.join(root, "etc-bird")
    fs.mkdirSync(etcBird)
    const render = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "-e",
      "NODE_IP=198.18.0.2",
      "-v",
      `${config}:/config:ro`,
      "-v",
      `${etcBird}:/etc/bird`,
      "--entrypoint",
      "/bin/sh",
      images.bird,
      "/config/render-bird.sh"
    ])
    assert.strictEqual(render.status, 0, render.stderr)
    const rendered = fs.readFileSync(path.join(etcBird, "bird.conf"), "utf8")
    assert.include(rendered, "router id 198.18.0.2;")
    assert.include(rendered, "neighbor 198.18.0.1 as LOCAL_AS;")
    const parse = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${etcBird}:/etc/bird:ro`,
      images.bird,
      "-p"
    ])
    assert.strictEqual(parse.status, 0, parse.stderr)
    // the gc container runs the executable install-cni put on the host (mounted read-only)
    const binDir = path.join(root, "host/opt/cni/bin")
    const version = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${binDir}:/host/opt/cni/bin:ro`,
      "--entrypoint",
      "/host/opt/cni/bin/routetable-ipam",
      images.bird,
      "gc",
      "--help"
    ])
    assert.strictEqual(version.status, 0, version.stderr)
    assert.include(version.stdout, "--grace")
    // the metrics container: metrics-loop.sh with the image's sh, mv and rm, the installed executable,
    // the ConfigMap's conflist; the textfile lands whole (BIRD is not running there: probe_ok 0)
    const netDir = path.join(root, "metrics-net.d")
    const textfile = path.join(root, "textfile")
    fs.mkdirSync(netDir)
    fs.mkdirSync(textfile)
    fs.copyFileSync(
      path.join(config, "10-routetable-ipam.conflist"),
      path.join(netDir, "10-routetable-ipam.conflist")
    )
    const metrics = podman([
      "run",
      "--rm",
      "--network",
      "none",
      "-e",
      "ONCE=1",
      "-v",
      `${config}:/config:ro`,
      "-v",
      `${binDir}:/host/opt/cni/bin:ro`,
      "-v",
      `${netDir}:/host/etc/cni/net.d:ro`,
      "-v",
      `${textfile}:/host/textfile`,
      "--entrypoint",
      "/bin/sh",
      images.bird,
      "/config/metrics-loop.sh"
    ])
    assert.strictEqual(metrics.status, 0, metrics.stderr)
    assert.deepStrictEqual(fs.readdirSync(textfile), ["routetable-ipam.prom"], metrics.stderr)
    const samples = assertPrometheusText(fs.readFileSync(path.join(textfile, "routetable-ipam.prom"), "utf8"))
    assert.strictEqual(samples.find((s) => s.name === "routetable_ipam_fabric_probe_ok")?.value, 0)
    // the manifest npm run images writes names exactly the images built
    const tag = images.plugin.split(":")[1] ?? ""
    const filled = renderDaemonSet(manifest, tag)
    assert.include(filled, `image: localhost/${images.plugin}`)
    assert.include(filled, `image: localhost/${images.bird}`)
  })

  it("the BIRD image's bird accepts the rendered config (bird -p) and refuses a broken one", () => {
    const config = path.join(root, "parse.conf")
    fs.writeFileSync(
      config,
      renderBirdConfig({
        routerId: "198.18.0.2",
        localAddress: "198.18.0.2",
        localAddress6: "fd00:198::2",
        peers: ["198.18.0.1"],
        podPrefixes4: ["100.64.0.0/16"],
        podPrefixes6: ["fd00:64::/48"]
      })
    )
    const parse = (file: string) =>
      podman(["run", "--rm", "--network", "none", "-v", `${file}:/etc/bird/bird.conf:ro`, images.bird, "-p"])
    const good = parse(config)
    assert.strictEqual(good.status, 0, good.stderr)
    const broken = path.join(root, "broken.conf")
    fs.writeFileSync(broken, `${fs.readFileSync(config, "utf8")}\nprotocol frobnicate {}\n`)
    assert.notStrictEqual(parse(broken).status, 0)
  })

  it("the BIRD image's bird, in a node namespace, exchanges claims with a lab BIRD over BGP", async () => {
    const nodeA = await Netns.create()
    const nodeB = await nodeA.createChild()
    const container = `rtipam-e2e-bird-${process.pid}`
    let hostBird: ChildProcess | undefined
    try {
      await nodeA.run("ip", ["link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", nodeB.path])
      await nodeA.run("ip", ["addr", "add", "198.18.0.1/24", "dev", "vA"])
      await nodeA.run("ip", ["link", "set", "vA", "up"])
      await nodeB.run("ip", ["addr", "add", "198.18.0.2/24", "dev", "vB"])
      await nodeB.run("ip", ["link", "set", "vB", "up"])
      const common = { podPrefixes4: ["100.64.0.0/16"], fastTimers: true, holdTime: 3 }
      const configA = path.join(root, "a.conf")
      fs.writeFileSync(
        configA,
        renderBirdConfig({
          ...common,
          routerId: "198.18.0.1",
          localAddress: "198.18.0.1",
          peers: ["198.18.0.2"],
          logFile: `${root}/a.log`
        })
      )
      const runB = path.join(root, "run-b")
      fs.mkdirSync(runB)
      const configB = path.join(root, "b.conf")
      fs.writeFileSync(
        configB,
        renderBirdConfig({
          ...common,
          routerId: "198.18.0.2",
          localAddress: "198.18.0.2",
          peers: ["198.18.0.1"],
          logFile: "/run/bird/bird.log"
        })
      )
      hostBird = nodeA.spawn("bird", [
        "-f",
        "-c",
        configA,
        "-s",
        path.join(root, "a.ctl"),
        "-P",
        `${root}/a.pid`
      ])
      const started = podman([
        "run",
        "-d",
        "--name",
        container,
        "--network",
        `ns:${nodeB.path}`,
        "--cap-add",
        "NET_ADMIN",
        "-v",
        `${configB}:/etc/bird/bird.conf:ro`,
        "-v",
        `${runB}:/run/bird`,
        images.bird
      ])
      assert.strictEqual(started.status, 0, started.stderr)
      // a claim on each node: host routes of our protocol inside the pod range
      await nodeA.run("ip", ["route", "add", "100.64.1.1/32", "dev", "vA", "proto", "192", "metric", "4096"])
      await nodeB.run("ip", ["route", "add", "100.64.2.2/32", "dev", "vB", "proto", "192", "metric", "4096"])
      const learned = async (ns: Netns, address: string): Promise<string> => {
        for (let i = 0; i < 100; i++) {
          const routes = await ns.run("ip", ["route", "show", `${address}/32`, "proto", "bird"])
          if (routes.trim() !== "") return routes
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        return ""
      }
      const onA = await learned(nodeA, "100.64.2.2")
      const onB = await learned(nodeB, "100.64.1.1")
      const log = fs.existsSync(path.join(runB, "bird.log"))
        ? fs.readFileSync(path.join(runB, "bird.log"), "utf8")
        : ""
      assert.include(onA, "via 198.18.0.2", `the lab node learned the image BIRD's claim\n${log}`)
      assert.include(onB, "via 198.18.0.1", `the image BIRD installed the lab node's claim\n${log}`)
      // birdc of the image answers on the socket the container shares with the host
      const birdc = podman([
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        `${runB}:/run/bird`,
        "--entrypoint",
        "/usr/sbin/birdc",
        images.bird,
        "-s",
        "/run/bird/bird.ctl",
        "show",
        "protocols"
      ])
      assert.strictEqual(birdc.status, 0, birdc.stderr)
      assert.match(birdc.stdout, /BGP .* up .*Established/)
    } finally {
      podman(["rm", "-f", "-t", "0", container])
      if (hostBird !== undefined && hostBird.exitCode === null) {
        const exited = new Promise((resolve) => hostBird?.once("exit", resolve))
        hostBird.kill("SIGKILL")
        await exited
      }
      await nodeA.close()
    }
  }, 60_000)
})
