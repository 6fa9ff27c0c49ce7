// Replaces `node-gyp-build` in the plain bundle: the netlink addon travels inside the bundle as base64.
import * as path from "node:path"
import addonBase64 from "routetable-ipam:netlink-addon-base64"
import { lazyBinding } from "./lazyBinding.ts"
import { addonDirectoryCandidates, loadCachedNativeAddon } from "./loadNativeAddon.ts"
import { netlinkAddonId } from "./netlinkAddonId.ts"

/**
 * Same call shape as `require("node-gyp-build")(dir)` (the directory is ignored): returns the netlink
 * binding, decoded from the bundle and dlopened on first use, so commands that never open a netlink
 * socket never pay for it.
 */
export const nodeGypBuild = (_packageDirectory: string): object =>
  lazyBinding(() => {
    const script = process.argv[1]
    return loadCachedNativeAddon(Buffer.from(addonBase64, "base64"), {
      fileName: "netlink.node",
      id: netlinkAddonId,
      directories: addonDirectoryCandidates(script === undefined ? undefined : path.dirname(script))
    }) as object
  })
