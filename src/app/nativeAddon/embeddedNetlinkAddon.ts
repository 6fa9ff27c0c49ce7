// Replaces `node-gyp-build` in the plain bundle: the netlink addon travels in the bundle's payload, handed over by its outer layer.
import * as path from "node:path"
import { netlinkAddonBytes } from "routetable-ipam:netlink-addon"
import { lazyBinding } from "./lazyBinding.ts"
import { addonDirectoryCandidates, loadCachedNativeAddon } from "./loadNativeAddon.ts"
import { netlinkAddonId } from "./netlinkAddonId.ts"

/**
 * Same call shape as `require("node-gyp-build")(dir)` (the directory is ignored): returns the netlink
 * binding, decoded from the bundle and dlopened on first use, so commands that never open a netlink
 * socket never pay for it. `routetable-ipam:netlink-addon` is left to the program's `require`,
 * which src/app/entry/bundleMain.ts (and the build's code-cache run) answer.
 */
export const nodeGypBuild = (_packageDirectory: string): object =>
  lazyBinding(() => {
    const script = process.argv[1]
    return loadCachedNativeAddon(netlinkAddonBytes(), {
      fileName: "netlink.node",
      id: netlinkAddonId,
      directories: addonDirectoryCandidates(script === undefined ? undefined : path.dirname(script))
    }) as object
  })
