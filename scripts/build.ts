// Bundles src/app/main.ts into dist/routetable-ipam: one minified file with a shebang and the netlink addon inside.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as esbuild from "esbuild"
import { type BundleLayout, encodeBundlePayload } from "../src/app/entry/bundlePayload.ts"

/** Repository root (this file lives in scripts/). */
export const projectRoot = path.resolve(import.meta.dirname, "..")

/** The linux-x64 N-API prebuild shipped by the `netlink` package; the only native code we ship. */
export const netlinkAddonFile = path.join(
  projectRoot,
  "node_modules/netlink/prebuilds/linux-x64/node.napi.node"
)

/** Which replacement of `node-gyp-build` a build uses: bytes inside the bundle, or a SEA asset. */
export type AddonSource = "embedded" | "sea"

const shimFiles: Record<AddonSource, string> = {
  embedded: path.join(projectRoot, "src/app/nativeAddon/embeddedNetlinkAddon.ts"),
  sea: path.join(projectRoot, "src/app/nativeAddon/seaNetlinkAddon.ts")
}

/** The module the plain bundle's program asks its host for the netlink addon's bytes (src/app/entry/bundleMain.ts). */
export const netlinkAddonModule = "routetable-ipam:netlink-addon"

/**
 * esbuild plugin: `require("node-gyp-build")` inside `netlink` becomes our loader (which writes the
 * addon into a private directory and dlopens it on first use); `routetable-ipam:netlink-addon`
 * stays a `require` of the host, which hands over the bytes from the bundle's payload.
 */
export const netlinkAddonPlugin = (source: AddonSource): esbuild.Plugin => ({
  name: "netlink-addon",
  setup: (build) => {
    build.onResolve({ filter: /^node-gyp-build$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}netlink${path.sep}`)
        ? { path: "node-gyp-build", namespace: "netlink-addon" }
        : { errors: [{ text: `unexpected node-gyp-build user ${args.importer}: only netlink is supported` }] }
    )
    build.onLoad({ filter: /^node-gyp-build$/, namespace: "netlink-addon" }, () => ({
      contents: `module.exports = require(${JSON.stringify(shimFiles[source])}).nodeGypBuild`,
      loader: "js",
      resolveDir: projectRoot
    }))
    build.onResolve({ filter: /^routetable-ipam:netlink-addon$/ }, () => ({
      path: netlinkAddonModule,
      external: true
    }))
  }
})

/**
 * First lines of the plain bundle. The file has no extension, so Node decides its module type from
 * the nearest package.json: CommonJS when there is none or `"type": "commonjs"`, ESM under
 * `"type": "module"` (as in this repository's dist/). The bundle is CommonJS code without import or
 * export statements and without `import.meta`, so it runs as either; these lines supply the
 * CommonJS wrapper's variables when it runs as ESM. (An ESM-syntax bundle near a package.json with
 * `"type": "commonjs"` is silently not run at all by Node 24: rc 0, empty stdout.)
 */
export const moduleNeutralBanner = [
  "#!/usr/bin/env node",
  '"use strict";var require=typeof require=="function"?require:process.getBuiltinModule("node:module").createRequire(process.argv[1]),' +
    '__dirname=typeof __dirname=="string"?__dirname:require("node:path").dirname(process.argv[1]),' +
    '__filename=typeof __filename=="string"?__filename:process.argv[1],' +
    'module=typeof module=="object"?module:{exports:{}},exports=module.exports;'
].join("\n")

/**
 * esbuild plugin: `netlink`'s `require("util")` becomes a module holding the one function it uses.
 * The package imports node:util through TypeScript's `__importStar`, which reads the descriptor of
 * every export; in Node 24 that materialises util's lazy exports (parseArgs, diff, setTraceSigInt,
 * ...) and with them ~40 built-in modules: worker_threads, assert's diff, and `process.stderr`
 * (util's colors ask it whether it is a terminal), i.e. the stream and socket stack. Every CNI
 * call that built the route table paid it (~5-9 ms of CPU).
 */
export const netlinkUtilPlugin: esbuild.Plugin = {
  name: "netlink-util",
  setup: (build) => {
    build.onResolve({ filter: /^(node:)?util$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}netlink${path.sep}`)
        ? { path: "util", namespace: "netlink-util" }
        : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "netlink-util" }, () => ({
      contents:
        'exports.__esModule = true; exports.getSystemErrorName = require("node:util").getSystemErrorName',
      loader: "js"
    }))
  }
}

/**
 * The git commit being built ("abc1234", "-dirty" with uncommitted changes), or "unknown" outside
 * a git checkout. `routetable-ipam --version` prints it (src/app/BuildInfo.ts).
 */
export const buildCommit = (): string => {
  const git = (...args: Array<string>) =>
    spawnSync("git", args, { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  const head = git("rev-parse", "--short=12", "HEAD")
  if (head.status !== 0 || head.stdout.trim() === "") return "unknown"
  const dirty = git("status", "--porcelain", "--untracked-files=no").stdout.trim() !== ""
  return `${head.stdout.trim()}${dirty ? "-dirty" : ""}`
}

/** esbuild options shared by the plain bundle and the SEA main (both CommonJS, node24, minified). */
export const bundleOptions = (options: {
  readonly entry: string
  readonly outfile: string
  readonly addonSource: AddonSource
}): esbuild.BuildOptions => ({
  entryPoints: [options.entry],
  outfile: options.outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node24",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  plugins: [netlinkAddonPlugin(options.addonSource), netlinkUtilPlugin],
  define: {
    __RTIPAM_BUILD_COMMIT__: JSON.stringify(buildCommit()),
    // names the one verified copy of the addon both forms keep (src/app/nativeAddon/loadNativeAddon.ts)
    __RTIPAM_NETLINK_ADDON_ID__: JSON.stringify(
      createHash("sha256").update(fs.readFileSync(netlinkAddonFile)).digest("hex").slice(0, 16)
    ),
    // `routetable-ipam install` writes this conflist when given none (src/app/commands/install.ts)
    __RTIPAM_SHIPPED_CONFLIST__: JSON.stringify(
      fs.readFileSync(path.join(projectRoot, "deploy/cni/bridge-ipv4.conflist"), "utf8")
    ),
    // only source runs read files next to a module; the bundle (CommonJS) has no import.meta
    "import.meta.dirname": "undefined"
  },
  ...(options.addonSource === "embedded" ? { banner: { js: moduleNeutralBanner } } : {})
})

/** The outer layer of the plain bundle (answers VERSION, else runs the program its payload line carries). */
export const bundleMainFile = path.join(projectRoot, "src/app/entry/bundleMain.ts")

/** esbuild plugin: the virtual module `routetable-ipam:bundle-layout` becomes the given layout (JSON). */
export const bundleLayoutPlugin = (layout: BundleLayout): esbuild.Plugin => ({
  name: "bundle-layout",
  setup: (build) => {
    build.onResolve({ filter: /^routetable-ipam:bundle-layout$/ }, () => ({
      path: "bundle-layout",
      namespace: "bundle-layout"
    }))
    build.onLoad({ filter: /.*/, namespace: "bundle-layout" }, () => ({
      contents: JSON.stringify(layout),
      loader: "json"
    }))
  }
})

/** The executable's real entry: the CNI plugin and the operator commands. */
export const mainEntryFile = path.join(projectRoot, "src/app/main.ts")

/** Whether `entry` is src/app/main.ts (other entries are test fixtures, which makeCodeCache cannot run). */
export const isMainEntry = (entry: string): boolean => path.resolve(entry) === mainEntryFile

/** `entry` bundled in memory as bundleOptions says, without the banner: the program's text. */
export const bundleProgram = async (options: {
  readonly entry: string
  readonly addonSource: AddonSource
}): Promise<string> => {
  const { banner: _, ...programOptions } = bundleOptions({ ...options, outfile: "program.cjs" })
  const program = await esbuild.build({ ...programOptions, write: false })
  const text = program.outputFiles[0]?.text
  if (text === undefined) throw new Error(`esbuild wrote no output for ${options.entry}`)
  return text
}

/** The program as bundleMain.ts compiles it: a function of the CommonJS wrapper's variables. */
export const wrapProgram = (program: string): string =>
  `(function (exports, require, module, __filename, __dirname) {${program}\n})`

/** The child that compiles the program as bundleMain.ts does, runs it, and writes its code cache at exit. */
const cacheMakerScript = [
  'const fs = require("node:fs"), vm = require("node:vm")',
  "const [source, cache, addon] = process.argv.slice(1)",
  'const script = new vm.Script(fs.readFileSync(source, "utf8"), { filename: source })',
  "process.on('exit', () => fs.writeFileSync(cache, script.createCachedData()))",
  // outside a single executable node:sea has no assets: the SEA program's addon loader gets the file's bytes
  "const sea = { getRawAsset: () => { const b = fs.readFileSync(addon); return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) } }",
  // the bundle's program asks its host (bundleMain.ts) for the addon's bytes
  `const embedded = { netlinkAddonBytes: () => fs.readFileSync(addon) }`,
  `const host = (id) => (id === 'node:sea' || id === 'sea' ? sea : id === ${JSON.stringify(netlinkAddonModule)} ? embedded : require(id))`,
  "script.runInThisContext()(module.exports, host, module, source, require('node:path').dirname(source))"
].join("\n")

/**
 * The training run: one real ADD (W = 20 ms, the smallest accepted) of the program, inside a
 * private network namespace of its own (`unshare -rn`: the build never touches the host's routes)
 * with a throw-away data directory. Everything ADD runs is then compiled: config decode, the
 * claim protocol, netlink, the record store, the lock (about 2/3 of ADD's CPU was compiling
 * functions the start-only cache did not hold). Undefined when no private namespace can be made
 * (no `unshare`, user namespaces disabled) or the ADD did not succeed: the caller falls back.
 */
const trainWithAdd = (node: string, source: string, cache: string, work: string): Buffer | undefined => {
  const dataDir = path.join(work, "data")
  const config = JSON.stringify({
    cniVersion: "1.1.0",
    name: "codecache",
    type: "routetable-ipam",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/24" }]],
      propagationTimeout: "20ms",
      dataDir
    }
  })
  // lo up first: the claim's host route points at lo
  const run = spawnSync(
    "unshare",
    [
      "-rn",
      "sh",
      "-c",
      'ip link set lo up && exec "$0" -e "$1" "$2" "$3" "$4"',
      node,
      cacheMakerScript,
      source,
      cache,
      netlinkAddonFile
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "codecache",
        CNI_NETNS: "/proc/self/ns/net",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin"
      },
      input: config,
      encoding: "utf8",
      timeout: 60_000
    }
  )
  if (run.status !== 0 || !run.stdout.includes('"ips"') || !fs.existsSync(cache)) {
    process.stderr.write(
      `code cache: the training ADD did not succeed (${run.status}: ${run.stdout}${run.stderr.slice(0, 500)}), caching the CNI core's start only\n`
    )
    return undefined
  }
  return fs.readFileSync(cache)
}

/**
 * Makes the V8 code cache of `wrappedProgram` with `node`: a child compiles it as bundleMain.ts
 * does, runs it, and at exit writes every function compiled so far. First choice: a real ADD in
 * a private namespace (`trainWithAdd`). Else (no user namespaces) the CNI core's start only:
 * `CNI_COMMAND=ADD` with every other CNI variable missing loads and starts the whole core, then
 * fails with code 4 before any adapter. Throws unless the fallback child ended exactly so.
 */
export const makeCodeCache = (wrappedProgram: string, node: string = process.execPath): Buffer => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "routetable-ipam-cache-"))
  try {
    const source = path.join(work, "program.js")
    const cache = path.join(work, "program.cache")
    fs.writeFileSync(source, wrappedProgram)
    if (process.env.RTIPAM_CODE_CACHE_TRAINING !== "start") {
      const trained = trainWithAdd(node, source, cache, work)
      if (trained !== undefined) return trained
    }
    fs.rmSync(cache, { force: true })
    const run = spawnSync(node, ["-e", cacheMakerScript, source, cache, netlinkAddonFile], {
      env: { PATH: process.env.PATH ?? "", CNI_COMMAND: "ADD" },
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
      timeout: 60_000
    })
    if (run.status !== 4 || !run.stdout.includes('"code":4') || !fs.existsSync(cache)) {
      throw new Error(
        `making the code cache: expected exit 4 and a CNI error, got ${run.status}: ${run.stdout}${run.stderr}`
      )
    }
    return fs.readFileSync(cache)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/**
 * Builds the operator executable: `entry` bundled in memory (the program: CommonJS, node24,
 * minified) and its V8 code cache (`makeCodeCache`), then src/app/entry/bundleMain.ts bundled as
 * the outer layer, followed by one line comment carrying the program, the cache and the netlink
 * addon (src/app/entry/bundlePayload.ts: V8 skips a comment, where it would scan and build a
 * string literal; the outer layer reads the line back as bytes). Node pre-parses every function
 * of a script it loads, so a program in plain code would cost VERSION ~20 ms it never runs.
 * Shebang, mode 0755. Returns the file's size in bytes.
 */
export const buildBundle = async (options: {
  readonly entry: string
  readonly outfile: string
  /** Make the code cache (default: only for src/app/main.ts, whose start `makeCodeCache` runs). */
  readonly codeCache?: boolean
}): Promise<number> => {
  fs.mkdirSync(path.dirname(options.outfile), { recursive: true })
  const program = wrapProgram(await bundleProgram({ entry: options.entry, addonSource: "embedded" }))
  const codeCache = (options.codeCache ?? isMainEntry(options.entry)) ? makeCodeCache(program) : undefined
  const payload = encodeBundlePayload(
    { program, codeCache, addon: fs.readFileSync(netlinkAddonFile) },
    (body) => createHash("sha256").update(body).digest("hex").slice(0, 16)
  )
  const outer = await esbuild.build({
    ...bundleOptions({ entry: bundleMainFile, outfile: options.outfile, addonSource: "embedded" }),
    // the outer layer never touches netlink: it only learns where its payload lies
    plugins: [bundleLayoutPlugin(payload.layout)],
    write: false
  })
  const outerText = outer.outputFiles[0]?.text
  if (outerText === undefined) throw new Error("esbuild wrote no output for the outer layer")
  fs.writeFileSync(
    options.outfile,
    `${outerText.endsWith("\n") ? outerText : `${outerText}\n`}${payload.line}\n`,
    {
      mode: 0o755
    }
  )
  fs.chmodSync(options.outfile, 0o755)
  return fs.statSync(options.outfile).size
}

/** Reads `--name value` from argv, or the fallback. */
export const argument = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(`--${name}`)
  const value = index === -1 ? undefined : process.argv[index + 1]
  return value ?? fallback
}

if (import.meta.main) {
  const started = process.hrtime.bigint()
  const entry = path.resolve(argument("entry", mainEntryFile))
  const outfile = path.resolve(argument("outfile", path.join(projectRoot, "dist/routetable-ipam")))
  const size = await buildBundle({ entry, outfile })
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  console.log(
    `${path.relative(process.cwd(), outfile)}: ${(size / 1024).toFixed(0)} KiB in ${millis.toFixed(0)} ms`
  )
}
