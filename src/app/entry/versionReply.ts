// VERSION's reply, from a module that imports nothing heavy: the executable answers it before loading Effect.
import { latestVersion, supportedVersions } from "../../adapters/cni/CniVersion.ts"

/** The exact stdout of `CNI_COMMAND=VERSION`: the versions JSON and a newline (as cniMain prints it). */
export const versionReply = `${JSON.stringify({ cniVersion: latestVersion, supportedVersions })}\n`
