// Builds the library entry points into dist/lib: ESM JavaScript (esbuild) and .d.ts files (tsc).
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as esbuild from "esbuild"

/** Repository root (this file lives in scripts/). */
export const projectRoot = path.resolve(import.meta.dirname, "..")

/** The package's entry points: subpath -> source module (dist/lib/<name>.js and .d.ts). */
export const libraryEntries = {
  ".": "src/index.ts",
  "./netlink": "src/netlink.ts",
  "./testing": "src/testing.ts"
} as const

/** Packages the library imports and never bundles (runtime dependencies of the package). */
export const libraryExternals = ["effect", "ip-num", "netlink"] as const

/** The `exports` block of package.json for the built library. */
export const libraryExports = {
  ".": { types: "./dist/lib/index.d.ts", default: "./dist/lib/index.js" },
  "./netlink": { types: "./dist/lib/netlink.d.ts", default: "./dist/lib/netlink.js" },
  "./testing": { types: "./dist/lib/testing.d.ts", default: "./dist/lib/testing.js" },
  "./package.json": "./package.json"
} as const

const outputName = (source: string): string => path.basename(source, ".ts")

/**
 * Relative `.ts` specifiers in emitted declarations become `.js` (tsc's rewriteRelativeImportExtensions
 * rewrites JavaScript output only), so consumers resolve them to the neighbouring .d.ts files.
 */
export const rewriteDeclarationSpecifiers = (text: string): string =>
  text.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1$2.js$3")

const declarationFiles = (directory: string): Array<string> =>
  fs
    .readdirSync(directory, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".d.ts"))
    .map((name) => path.join(directory, name))

/**
 * Build the library into `outdir`: one ESM module per entry (platform node, shared code split into
 * chunks, so every entry sees the same classes), and declarations mirroring src/. Returns the files written.
 */
export const buildLibrary = async (outdir: string): Promise<ReadonlyArray<string>> => {
  fs.rmSync(outdir, { recursive: true, force: true })
  await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: Object.values(libraryEntries).map((source) => ({ in: source, out: outputName(source) })),
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: [...libraryExternals],
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: true,
    legalComments: "none",
    logLevel: "warning"
  })
  execFileSync(
    path.join(projectRoot, "node_modules/.bin/tsc"),
    ["-p", path.join(projectRoot, "tsconfig.lib.json"), "--outDir", outdir],
    { cwd: projectRoot, stdio: ["ignore", "inherit", "inherit"] }
  )
  for (const file of declarationFiles(outdir)) {
    fs.writeFileSync(file, rewriteDeclarationSpecifiers(fs.readFileSync(file, "utf8")))
  }
  return fs
    .readdirSync(outdir, { recursive: true, encoding: "utf8" })
    .filter((name) => fs.statSync(path.join(outdir, name)).isFile())
    .sort()
}

if (import.meta.main) {
  const index = process.argv.indexOf("--outdir")
  const outdir = path.resolve(
    index === -1 ? path.join(projectRoot, "dist/lib") : (process.argv[index + 1] ?? "")
  )
  const started = process.hrtime.bigint()
  const files = await buildLibrary(outdir)
  const millis = Number(process.hrtime.bigint() - started) / 1e6
  console.log(
    `${path.relative(process.cwd(), outdir) || "."}: ${files.length} files in ${millis.toFixed(0)} ms`
  )
}
