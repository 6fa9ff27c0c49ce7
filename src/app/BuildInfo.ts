// The version and the git commit this executable was built from (scripts/build.ts fills in the commit).
import { pluginVersion } from "./plugin/PluginVersion.ts"

/** Replaced by scripts/build.ts (esbuild `define`); absent when running from source. */
declare const __RTIPAM_BUILD_COMMIT__: string | undefined

/** The git commit of the build ("abc1234", "abc1234-dirty"), or "unknown" when run from source. */
export const buildCommit: string =
  typeof __RTIPAM_BUILD_COMMIT__ === "string" && __RTIPAM_BUILD_COMMIT__ !== ""
    ? __RTIPAM_BUILD_COMMIT__
    : "unknown"

/** What `routetable-ipam --version` prints: "0.1.0 (commit abc1234)". */
export const versionText = `${pluginVersion} (commit ${buildCommit})`
