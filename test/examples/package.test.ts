// The built library (scripts/build-lib.ts) as an application sees it: installed, imported by name with Node 24, type-checked.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { buildLibrary, libraryEntries, libraryExports, libraryExternals } from "../../scripts/build-lib.ts"

const projectRoot = path.resolve(import.meta.dirname, "../..")
const node = path.join(projectRoot, "node_modules/.bin/node")
const tsc = path.join(projectRoot, "node_modules/.bin/tsc")

/** What one import of an entry did in a fresh Node process. */
interface ImportReport {
  readonly keys: ReadonlyArray<string>
  /** Every module URL resolved while importing. */
  readonly resolved: ReadonlyArray<string>
  /** Native addons loaded (process.dlopen calls). */
  readonly dlopened: ReadonlyArray<string>
}

/** Child program: record resolutions (module.registerHooks) and dlopen calls, import the entry, report. */
const importProbe = `
import { registerHooks } from "node:module"
const resolved = []
const dlopened = []
registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); resolved.push(r.url); return r } })
const dlopen = process.dlopen
process.dlopen = (module, file, ...rest) => { dlopened.push(String(file)); return dlopen(module, file, ...rest) }
const entry = await import(process.argv[1])
process.stdout.write(JSON.stringify({ keys: Object.keys(entry).sort(), resolved, dlopened }))
`

/** A consumer in the application: ports, a pool, attach on memory, and the netlink layer's type. */
const consumerSource = `import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { Attach, ClaimPolicy, Ip, type Network, Pool, RouteTable, type RouteTableError } from "routetable-ipam"
import { NetlinkRouteTable } from "routetable-ipam/netlink"
import { Fabric, MemoryAttachments, MemoryRouteTable } from "routetable-ipam/testing"

const pool = Pool.makePool("pods", [{ subnet: "100.64.0.0/24" }])
if (pool instanceof Pool.InvalidPool) throw new Error(pool.message)
const network: Network = { name: "pods", pools: [pool], policy: ClaimPolicy.defaultClaimPolicy }
export const first: Effect.Effect<string, unknown, RouteTable> = Attach.attach(
  network,
  { containerId: "c1", ifname: "eth0" },
  []
).pipe(
  Effect.map((assigned) => Ip.formatIp(assigned[0]!.address)),
  Effect.provide(MemoryAttachments.layer)
)
export const inMemory: Effect.Effect<string, unknown> = first.pipe(Effect.provide(MemoryRouteTable.layer()))
export const kernel: Layer.Layer<RouteTable, RouteTableError> = NetlinkRouteTable.layer({ device: "cni0" })
export const node0: RouteTable["Service"] = Fabric.makeFabric({ nodes: 2, delay: { _tag: "Fixed", ms: 5 }, seed: 1 }).routeTableOf(0)
// @ts-expect-error an Ip is not a string: fails only if the declarations resolved to real types
Ip.formatIp("100.64.0.1")
`

/** A program run against the built package: two containers on one memory node, then released. */
const memoryProgram = `
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Attach, ClaimPolicy, Ip, Pool } from "routetable-ipam"
import { MemoryAttachments, MemoryRouteTable } from "routetable-ipam/testing"
const pool = Pool.makePool("pods", [{ subnet: "100.64.0.0/30" }])
const network = { name: "pods", pools: [pool], policy: { ...ClaimPolicy.defaultClaimPolicy, propagationTimeout: Duration.millis(5) } }
const owners = [{ containerId: "a", ifname: "eth0" }, { containerId: "b", ifname: "eth0" }]
const program = Effect.forEach(owners, (owner) => Attach.attach(network, owner, [])).pipe(
  Effect.map((all) => all.flat().map((a) => Ip.formatIp(a.address)).sort()),
  Effect.provide(Layer.mergeAll(MemoryRouteTable.layer(), MemoryAttachments.layer))
)
process.stdout.write(JSON.stringify(await Effect.runPromise(program)))
`

describe("the library package (dist/lib)", () => {
  let app = ""
  let lib = ""
  let files: ReadonlyArray<string> = []

  beforeAll(async () => {
    // an application directory with the package installed: node_modules/routetable-ipam/{package.json,dist/lib}
    app = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-package-"))
    const installed = path.join(app, "node_modules/routetable-ipam")
    lib = path.join(installed, "dist/lib")
    files = await buildLibrary(lib)
    const manifest = {
      name: "routetable-ipam",
      version: "0.0.0-test",
      type: "module",
      exports: libraryExports
    }
    fs.writeFileSync(path.join(installed, "package.json"), JSON.stringify(manifest, null, 2))
    for (const dependency of libraryExternals) {
      fs.symlinkSync(
        path.join(projectRoot, "node_modules", dependency),
        path.join(app, "node_modules", dependency)
      )
    }
    fs.writeFileSync(path.join(app, "package.json"), '{ "type": "module" }\n')
  }, 120_000)
  afterAll(() => fs.rmSync(app, { recursive: true, force: true }))

  const importInApp = (specifier: string): ImportReport => {
    const run = spawnSync(node, ["--input-type=module", "-e", importProbe, specifier], {
      cwd: app,
      encoding: "utf8",
      timeout: 30_000
    })
    assert.strictEqual(run.status, 0, run.stderr)
    return JSON.parse(run.stdout) as ImportReport
  }
  const loadsNetlink = (report: ImportReport): boolean =>
    report.resolved.some((url) => url.includes("/node_modules/netlink/")) || report.dlopened.length > 0

  it("writes one ESM module and one declaration file per entry", () => {
    for (const source of Object.values(libraryEntries)) {
      const name = path.basename(source, ".ts")
      assert.include(files, `${name}.js`)
      assert.include(files, `${name}.d.ts`)
    }
  })

  it("imports only its dependencies, node built-ins and its own chunks", () => {
    const allowed = new RegExp(`^(\\.{1,2}/|node:|(${libraryExternals.join("|")})(/|$))`)
    for (const file of files.filter((f) => f.endsWith(".js"))) {
      const text = fs.readFileSync(path.join(lib, file), "utf8")
      for (const [, specifier] of text.matchAll(/(?:^|\s)(?:import|export)\s[^"';]*?from\s*"([^"]+)"/gm)) {
        assert.match(specifier!, allowed, `${file} imports ${specifier}`)
      }
    }
  })

  it("declarations point at .js neighbours, never at .ts sources", () => {
    for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
      const text = fs.readFileSync(path.join(lib, file), "utf8")
      assert.notMatch(text, /from\s*["']\.{1,2}\/[^"']*\.ts["']/, file)
    }
  })

  it('"routetable-ipam": the domain, loaded without netlink or any native addon', () => {
    const report = importInApp("routetable-ipam")
    for (const key of [
      "Ip",
      "Pool",
      "Claim",
      "ClaimPolicy",
      "Attach",
      "RouteTable",
      "Attachments",
      "FabricHealth",
      "Collection",
      "Ownership",
      "NodeLock"
    ])
      assert.include(report.keys, key)
    for (const key of [
      "PoolExhausted",
      "AddressTaken",
      "AttemptsExhausted",
      "RouteTableError",
      "InvalidPool"
    ])
      assert.include(report.keys, key)
    assert.isFalse(loadsNetlink(report), JSON.stringify(report))
    assert.isTrue(report.resolved.some((url) => url.endsWith("/dist/lib/index.js")))
  })

  it('"routetable-ipam/testing": memory adapters and the fabric, without netlink', () => {
    const report = importInApp("routetable-ipam/testing")
    for (const key of ["MemoryRouteTable", "MemoryAttachments", "Fabric", "DelayDistribution", "VirtualTime"])
      assert.include(report.keys, key)
    assert.isFalse(loadsNetlink(report), JSON.stringify(report))
  })

  it('"routetable-ipam/netlink": the kernel adapter, which does load netlink and its addon', () => {
    const report = importInApp("routetable-ipam/netlink")
    for (const key of ["NetlinkRouteTable", "FileAttachments", "BirdFabricHealth", "AbstractSocketNodeLock"])
      assert.include(report.keys, key)
    assert.isTrue(loadsNetlink(report), JSON.stringify(report))
  })

  it("allocates through the built package (memory adapters, Node 24)", () => {
    const run = spawnSync(node, ["--input-type=module", "-e", memoryProgram], {
      cwd: app,
      encoding: "utf8",
      timeout: 30_000
    })
    assert.strictEqual(run.status, 0, run.stderr)
    // a /30 has exactly two hosts
    assert.deepStrictEqual(JSON.parse(run.stdout), ["100.64.0.1", "100.64.0.2"])
  })

  it("type-checks an application against the declarations (tsc, NodeNext)", () => {
    fs.writeFileSync(path.join(app, "consumer.ts"), consumerSource)
    const tsconfig = {
      compilerOptions: {
        target: "ES2023",
        lib: ["ES2023"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: true,
        noEmit: true,
        types: []
      },
      files: ["consumer.ts"]
    }
    fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(tsconfig))
    const run = spawnSync(tsc, ["-p", "tsconfig.json"], { cwd: app, encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(run.status, 0, `${run.stdout}${run.stderr}`)
  })

  it("package.json declares the same exports, and ships dist/lib", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as {
      exports?: unknown
      files?: ReadonlyArray<string>
    }
    assert.deepStrictEqual(manifest.exports, libraryExports)
    assert.include(manifest.files ?? [], "dist/lib")
  })
})
