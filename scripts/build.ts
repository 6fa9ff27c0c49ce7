// Bundles src/app/main.ts into dist/routetable-ipam: one minified file with a shebang and the netlink addon inside.
import * as fs from "node:fs"
import * as path from "node:path"
import * as esbuild from "esbuild"

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

/**
 * esbuild plugin: `require("node-gyp-build")` inside `netlink` becomes our loader (which writes the
 * addon into a private directory and dlopens it on first use), and the virtual module
 * `routetable-ipam:netlink-addon-base64` becomes the addon's bytes as a base64 string.
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
    build.onResolve({ filter: /^routetable-ipam:netlink-addon-base64$/ }, () => ({
      path: netlinkAddonFile,
      namespace: "netlink-addon-bytes"
    }))
    build.onLoad({ filter: /.*/, namespace: "netlink-addon-bytes" }, (args) => ({
      contents: fs.readFileSync(args.path),
      loader: "base64"
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
  plugins: [netlinkAddonPlugin(options.addonSource)],
  ...(options.addonSource === "embedded" ? { banner: { js: moduleNeutralBanner } } : {})
})

/**
 * Builds the operator executable: `entry` bundled into `outfile` (CommonJS that also runs as ESM,
 * node24, minified, shebang, mode 0755). Returns its size in bytes.
 */
export const buildBundle = async (options: {
  readonly entry: string
  readonly outfile: string
}): Promise<number> => {
  fs.mkdirSync(path.dirname(options.outfile), { recursive: true })
  await esbuild.build(bundleOptions({ ...options, addonSource: "embedded" }))
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
  const entry = path.resolve(argument("entry", path.join(projectRoot, "src/app/main.ts")))
  const outfile = path.resolve(argument("outfile", path.join(projectRoot, "dist/routetable-ipam")))
  const size = await buildBundle({ entry, outfile })
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  console.log(
    `${path.relative(process.cwd(), outfile)}: ${(size / 1024).toFixed(0)} KiB in ${millis.toFixed(0)} ms`
  )
}
