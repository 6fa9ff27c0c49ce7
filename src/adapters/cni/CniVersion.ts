// The CNI spec versions this plugin speaks, and which verbs each of them allows.

/** Every spec version the plugin accepts in a network config and reports to VERSION, oldest first. */
export const supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const

/** One supported spec version. */
export type CniVersion = (typeof supportedVersions)[number]

/** The newest supported version: used for replies when the config's version is not known (yet). */
export const latestVersion: CniVersion = "1.1.0"

/** Whether a config's `cniVersion` is one we speak. */
export const isSupportedVersion = (text: string): text is CniVersion =>
  (supportedVersions as ReadonlyArray<string>).includes(text)

/** Whether `version` is `minimum` or newer. */
export const isAtLeast = (version: CniVersion, minimum: CniVersion): boolean =>
  supportedVersions.indexOf(version) >= supportedVersions.indexOf(minimum)

/** Whether results of this version carry `ips[].version` ("4"/"6"): 0.3.0, 0.3.1 and 0.4.0. */
export const hasIpVersionField = (version: CniVersion): boolean => !isAtLeast(version, "1.0.0")
