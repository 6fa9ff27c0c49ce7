// Replaces `node-gyp-build` in the single executable: the netlink addon is a SEA asset.
import * as path from "node:path"
import * as sea from "node:sea"
import { lazyBinding } from "./lazyBinding.ts"
import { addonDirectoryCandidates, loadCachedNativeAddon } from "./loadNativeAddon.ts"
import { netlinkAddonId } from "./netlinkAddonId.ts"

/** Name of the SEA asset holding `node_modules/netlink/prebuilds/linux-x64/node.napi.node`. */
export const netlinkAddonAsset = "netlink.node"

/**
 * Same call shape as `require("node-gyp-build")(dir)` (the directory is ignored): returns the netlink
 * binding, read from the SEA asset and dlopened on first use.
 */
export const nodeGypBuild = (_packageDirectory: string): object =>
  lazyBinding(
    () =>
      loadCachedNativeAddon(new Uint8Array(sea.getRawAsset(netlinkAddonAsset)), {
        fileName: "netlink.node",
        id: netlinkAddonId,
        directories: addonDirectoryCandidates(path.dirname(process.execPath))
      }) as object
  )
