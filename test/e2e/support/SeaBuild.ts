// The single executable (`npm run build:sea`), built once and reused while it is newer than every source.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { findPostject } from "../../../scripts/build-sea.ts"
import { nodeBinary, projectRoot } from "./BuiltPlugin.ts"

/** What `npm run build:sea` writes. */
export const seaFile = path.join(projectRoot, "dist/routetable-ipam-linux-x64")

/** Whether the executable can be built here (postject is a devDependency). */
export const canBuildSea = (): boolean => findPostject() !== undefined

/** Newest modification time (ms) of the files the executable is built from (deploy/cni: the embedded conflist). */
const newestSource = (): number => {
  const files = [
    ...["src", "deploy/cni"].flatMap((dir) =>
      fs
        .readdirSync(path.join(projectRoot, dir), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.join(entry.parentPath, entry.name))
    ),
    path.join(projectRoot, "scripts/build.ts"),
    path.join(projectRoot, "scripts/build-sea.ts"),
    path.join(projectRoot, "package-lock.json")
  ]
  return Math.max(...files.filter((f) => fs.existsSync(f)).map((f) => fs.statSync(f).mtimeMs))
}

/** Build the executable unless it exists and is newer than every source; returns its path. */
export const ensureSea = (): string => {
  if (fs.existsSync(seaFile) && fs.statSync(seaFile).mtimeMs >= newestSource()) return seaFile
  execFileSync(nodeBinary, [path.join(projectRoot, "scripts/build-sea.ts")], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"]
  })
  return seaFile
}
