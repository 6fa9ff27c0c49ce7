// `npm run images`: builds the plugin and BIRD images offline with podman, FROM scratch, holding only the executables and what ldd lists for them.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { buildCommit, projectRoot } from "./build.ts"

/** What `npm run build:sea` writes: the plugin image's only executable. */
export const seaFile = path.join(projectRoot, "dist/routetable-ipam-linux-x64")

/** Debian's BIRD 2 (package bird2). */
export const birdExecutables = ["/usr/sbin/bird", "/usr/sbin/birdc"] as const

/**
 * What the DaemonSet's scripts for BIRD, the node settings and the gc loop run besides BIRD
 * (deploy/kubernetes/daemonset.yaml): a POSIX shell and a few tools, from this Debian.
 */
export const birdImageTools = [
  "sh",
  "sed",
  "grep",
  "tr",
  "mkdir",
  "dirname",
  "mv",
  "rm",
  "awk",
  "sleep"
] as const

/** The image names; both carry the same tag. */
export const pluginImage = "routetable-ipam"
export const birdImage = "routetable-ipam-bird"

/** `<package version>-<git short commit>` ("0.1.0-abc1234def56", "-dirty" with uncommitted changes). */
export const imageTag = (): string => {
  const { version } = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as {
    version: string
  }
  return `${version}-${buildCommit()}`
}

/** The DaemonSet as shipped: its images carry this placeholder for the tag (the one place it is set). */
export const daemonSetFile = path.join(projectRoot, "deploy/kubernetes/daemonset.yaml")
export const imageTagPlaceholder = "@IMAGE_TAG@"
/** Where `npm run images` writes the DaemonSet with the tag filled in. */
export const renderedDaemonSetFile = path.join(projectRoot, "dist/kubernetes/daemonset.yaml")

/** The DaemonSet with `tag` in every image reference, and the images under `registry` (default localhost, as podman names them). */
export const renderDaemonSet = (text: string, tag: string, registry = "localhost"): string => {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))
    throw new Error(`${JSON.stringify(tag)} is not an image tag`)
  return text
    .replaceAll(imageTagPlaceholder, tag)
    .replaceAll(/^(\s*image: )localhost\//gm, `$1${registry.replace(/\/+$/, "")}/`)
}

/** The files `ldd` lists for `executable` (shared libraries and the dynamic loader), as absolute paths. */
export const sharedLibrariesOf = (executable: string): ReadonlyArray<string> => {
  const run = spawnSync("ldd", [executable], { encoding: "utf8" })
  if (run.status !== 0) throw new Error(`ldd ${executable}: ${run.stderr.trim() || run.stdout.trim()}`)
  const files = new Set<string>()
  for (const line of run.stdout.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)
    if (match?.[1] !== undefined) files.add(match[1])
    else if (/not found/.test(line)) throw new Error(`ldd ${executable}: ${line.trim()}`)
  }
  return [...files]
}

/** Where `tool` is on this machine's PATH. */
const commandPath = (tool: string): string => {
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool], { encoding: "utf8" }).stdout.trim()
  if (!found.startsWith("/")) throw new Error(`${tool} is not on PATH`)
  return found
}

/** Copies `file` (following symlinks) to the same path under `rootfs`, keeping its mode. */
const copyInto = (rootfs: string, file: string, as: string = file): void => {
  const target = path.join(rootfs, as)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.copyFileSync(fs.realpathSync(file), target)
  fs.chmodSync(target, fs.statSync(file).mode & 0o7777)
}

/** A build context: the Containerfile and rootfs/ with `files` (path in image -> path here) and their libraries. */
const stageContext = (
  work: string,
  name: string,
  executables: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>>,
  directories: ReadonlyArray<readonly [string, number]>,
  librariesOf: ReadonlyArray<string> = []
): string => {
  const context = path.join(work, name)
  const rootfs = path.join(context, "rootfs")
  fs.mkdirSync(rootfs, { recursive: true })
  for (const [inImage, here] of Object.entries(executables)) {
    copyInto(rootfs, here, inImage)
    for (const library of sharedLibrariesOf(here)) copyInto(rootfs, library)
  }
  for (const other of librariesOf) for (const library of sharedLibrariesOf(other)) copyInto(rootfs, library)
  for (const [inImage, here] of Object.entries(extra)) copyInto(rootfs, here, inImage)
  for (const [directory, mode] of directories) {
    fs.mkdirSync(path.join(rootfs, directory), { recursive: true })
    fs.chmodSync(path.join(rootfs, directory), mode)
  }
  fs.copyFileSync(
    path.join(projectRoot, `deploy/images/${name}.Containerfile`),
    path.join(context, "Containerfile")
  )
  return context
}

/** `podman ARGS...`; podman's storage and config come from the environment (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF). */
const podman = (args: ReadonlyArray<string>): string => {
  const run = spawnSync("podman", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  if (run.error !== undefined)
    throw new Error(`podman: ${run.error.message} (install Debian's podman: npm run setup)`)
  if (run.status !== 0) throw new Error(`podman ${args.join(" ")}: ${run.stderr.trim()}`)
  return run.stdout
}

/** Builds both images from the single executable at `sea` and Debian's BIRD; returns their references. */
export const buildImages = (options: { readonly sea?: string; readonly tag?: string } = {}) => {
  const sea = options.sea ?? seaFile
  if (!fs.existsSync(sea)) throw new Error(`${sea} does not exist: run npm run build:sea`)
  const tag = options.tag ?? imageTag()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "routetable-ipam-images-"))
  try {
    const plugin = stageContext(work, "plugin", { "/usr/local/bin/routetable-ipam": sea }, {}, [
      ["/tmp", 0o1777]
    ])
    const tools = Object.fromEntries(birdImageTools.map((tool) => [`/usr/bin/${tool}`, commandPath(tool)]))
    const bird = stageContext(
      work,
      "bird",
      {
        "/usr/sbin/bird": birdExecutables[0],
        "/usr/sbin/birdc": birdExecutables[1],
        ...tools,
        "/bin/sh": commandPath("sh")
      },
      { "/usr/share/routetable-ipam/bird.conf.template": path.join(projectRoot, "deploy/bird/bird.conf") },
      [
        ["/etc/bird", 0o755],
        ["/run/bird", 0o755],
        ["/tmp", 0o1777]
      ],
      // the gc loop runs the executable the init container installed on the host
      [sea]
    )
    const references = { plugin: `${pluginImage}:${tag}`, bird: `${birdImage}:${tag}` }
    const label = ["--label", `org.opencontainers.image.version=${tag}`]
    podman(["build", "--quiet", "--network", "none", ...label, "-t", references.plugin, plugin])
    podman(["build", "--quiet", "--network", "none", ...label, "-t", references.bird, bird])
    return references
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

const usage = `Usage: npm run images [-- --no-sea-build] [--tag TAG] [--registry REG]

Builds, offline with podman, FROM scratch:
  ${pluginImage}:TAG       the single executable (${path.relative(projectRoot, seaFile)}) and its ldd libraries;
                           entrypoint \`routetable-ipam install\` (the DaemonSet's init step)
  ${birdImage}:TAG  Debian's bird and birdc, sh and the tools the DaemonSet's scripts use (${birdImageTools.join(", ")}),
                           their ldd libraries and the executable's (the gc loop runs the installed plugin),
                           the config template
TAG defaults to <package version>-<git short commit> (${imageTag()} now). The single executable is
built first (npm run build:sea) unless --no-sea-build. podman's own configuration decides where the
images are stored (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF).
Writes ${path.relative(projectRoot, renderedDaemonSetFile)}: the DaemonSet with TAG in its image references
(and REG/ instead of localhost/ with --registry REG).`

if (process.argv[1] === import.meta.filename) {
  const args = process.argv.slice(2)
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage)
  } else {
    const tagIndex = args.indexOf("--tag")
    const tag = tagIndex === -1 ? undefined : args[tagIndex + 1]
    if (!args.includes("--no-sea-build")) {
      const built = spawnSync(process.execPath, [path.join(projectRoot, "scripts/build-sea.ts")], {
        stdio: "inherit"
      })
      if (built.status !== 0) process.exit(built.status ?? 1)
    }
    const registryIndex = args.indexOf("--registry")
    const registry = registryIndex === -1 ? undefined : args[registryIndex + 1]
    const references = buildImages(tag === undefined ? {} : { tag })
    fs.mkdirSync(path.dirname(renderedDaemonSetFile), { recursive: true })
    fs.writeFileSync(
      renderedDaemonSetFile,
      renderDaemonSet(fs.readFileSync(daemonSetFile, "utf8"), references.plugin.split(":")[1] ?? "", registry)
    )
    console.log(`built ${references.plugin}\nbuilt ${references.bird}\nwrote ${renderedDaemonSetFile}`)
  }
}
