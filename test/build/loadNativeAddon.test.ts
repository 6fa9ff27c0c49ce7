// The addon loader on its own: candidate order, clean-up, errors, and the lazy binding stand-in.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { netlinkAddonFile } from "../../scripts/build.ts"
import { lazyBinding } from "../../src/app/nativeAddon/lazyBinding.ts"
import { loadNativeAddon } from "../../src/app/nativeAddon/loadNativeAddon.ts"
import { freshDirectory } from "./runExecutable.ts"

describe("loadNativeAddon", () => {
  const directories: Array<string> = []
  const scratch = (label: string): string => {
    const directory = freshDirectory(label)
    directories.push(directory)
    return directory
  }
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true })
  })

  it("skips a directory it cannot use, loads from the next one, and removes its private copy", () => {
    const usable = scratch("usable")
    const binding = loadNativeAddon(fs.readFileSync(netlinkAddonFile), {
      fileName: "netlink.node",
      directories: [path.join(usable, "does-not-exist"), usable]
    }) as { NativeNetlink?: unknown }
    assert.strictEqual(typeof binding.NativeNetlink, "function")
    assert.deepStrictEqual(fs.readdirSync(usable), [])
  })

  it("names every directory it tried when none works, and leaves nothing behind", () => {
    const first = scratch("first")
    const second = scratch("second")
    let message = ""
    try {
      loadNativeAddon(new TextEncoder().encode("not a shared object"), {
        fileName: "netlink.node",
        directories: [first, second]
      })
    } catch (error) {
      message = error instanceof Error ? error.message : String(error)
    }
    assert.include(message, "cannot load native addon netlink.node")
    assert.include(message, `${first}: `)
    assert.include(message, `${second}: `)
    assert.deepStrictEqual(fs.readdirSync(first), [])
    assert.deepStrictEqual(fs.readdirSync(second), [])
  })
})

describe("lazyBinding", () => {
  it("loads on the first property read, once", () => {
    let loads = 0
    const binding = lazyBinding(() => {
      loads++
      return { NativeNetlink: "native" }
    }) as { NativeNetlink?: unknown }
    assert.strictEqual(loads, 0)
    assert.strictEqual(binding.NativeNetlink, "native")
    assert.strictEqual(binding.NativeNetlink, "native")
    assert.strictEqual(loads, 1)
    assert.isTrue("NativeNetlink" in binding)
  })
})
