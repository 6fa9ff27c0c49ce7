// One private network namespace plus one temporary data directory per test, always cleaned up.
import { Netns } from "../../support/Netns.ts"
import { makeDataDir, removeDataDir } from "./PluginConfig.ts"

/** What a kernel test works in: a fresh namespace (lo up) and an empty data directory. */
export interface Sandbox {
  readonly ns: Netns
  readonly dataDir: string
}

/** A test body run in a fresh Sandbox; the namespace and the directory are removed afterwards. */
export const inSandbox = (body: (sandbox: Sandbox) => Promise<void>) => async (): Promise<void> => {
  const ns = await Netns.create()
  const dataDir = makeDataDir()
  try {
    await body({ ns, dataDir })
  } finally {
    await ns.close()
    removeDataDir(dataDir)
  }
}
