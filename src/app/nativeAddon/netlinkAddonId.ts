// The netlink addon's content id (first 16 hex digits of its SHA-256), fixed by scripts/build.ts at bundle time.

declare const __RTIPAM_NETLINK_ADDON_ID__: string | undefined

/** Names the kept copy of the addon (loadCachedNativeAddon); empty outside a bundle, which then loads a private copy per call. */
export const netlinkAddonId: string =
  typeof __RTIPAM_NETLINK_ADDON_ID__ === "string" ? __RTIPAM_NETLINK_ADDON_ID__ : ""
