// The addon loader on its own: candidate order, clean-up, errors, and the lazy binding stand-in.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { netlinkAddonFile } from "../../scripts/build.ts"
import { lazyBinding } from "../../src/app/nativeAddon/lazyBinding.ts"
import { loadCachedNativeAddon, loadNativeAddon } from "../../src/app/nativeAddon/loadNativeAddon.ts"
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

describe("loadCachedNativeAddon", () => {
  const directories: Array<string> = []
  const scratch = (label: string): string => {
    const directory = freshDirectory(label)
    directories.push(directory)
    return directory
  }
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true })
  })
  const euid = process.geteuid?.() ?? 0
  const id = "0123456789abcdef"
  const load = (base: string, bytes: Uint8Array = fs.readFileSync(netlinkAddonFile)) =>
    loadCachedNativeAddon(bytes, { fileName: "netlink.node", id, directories: [base] }) as {
      NativeNetlink?: unknown
    }
  const cacheDir = (base: string) => path.join(base, `routetable-ipam-addon-${euid}`)
  const copy = (base: string) => path.join(cacheDir(base), `${id}-netlink.node`)

  it("keeps one copy in a 0700 directory of its own and reuses it (same inode) on the next call", () => {
    const base = scratch("cache")
    assert.strictEqual(typeof load(base).NativeNetlink, "function")
    const first = fs.statSync(copy(base))
    assert.strictEqual(fs.statSync(cacheDir(base)).mode & 0o777, 0o700)
    assert.strictEqual(typeof load(base).NativeNetlink, "function")
    assert.strictEqual(fs.statSync(copy(base)).ino, first.ino)
    assert.deepStrictEqual(fs.readdirSync(cacheDir(base)), [`${id}-netlink.node`])
  })

  it("replaces a copy whose bytes differ (a torn or planted file) before loading", () => {
    const base = scratch("torn")
    fs.mkdirSync(cacheDir(base), { mode: 0o700 })
    fs.writeFileSync(copy(base), "not the addon", { mode: 0o600 })
    assert.strictEqual(typeof load(base).NativeNetlink, "function")
    assert.isTrue(fs.readFileSync(copy(base)).equals(fs.readFileSync(netlinkAddonFile)))
  })

  it("never uses a directory that is not 0700 or is a symlink: loads a private copy instead and leaves it alone", () => {
    for (const prepare of [
      (dir: string) => fs.mkdirSync(dir, { mode: 0o755 }),
      (dir: string) => fs.symlinkSync(scratch("elsewhere"), dir)
    ]) {
      const base = scratch("hostile")
      prepare(cacheDir(base))
      fs.chmodSync(cacheDir(base), 0o755)
      assert.strictEqual(typeof load(base).NativeNetlink, "function")
      assert.deepStrictEqual(fs.readdirSync(cacheDir(base)), [])
    }
  })

  it.runIf(euid === 0)("never uses a directory another user owns (pre-created to plant a library)", () => {
    const base = scratch("foreign")
    fs.mkdirSync(cacheDir(base), { mode: 0o700 })
    // the planted "copy" has the right name and is writable by its owner only
    fs.writeFileSync(copy(base), fs.readFileSync(netlinkAddonFile), { mode: 0o600 })
    fs.chownSync(copy(base), 65534, 65534)
    fs.chownSync(cacheDir(base), 65534, 65534)
    let loadedFromCopy = false
    const original = process.dlopen
    process.dlopen = ((module: { exports: unknown }, file: string, flags?: number) => {
      if (file.startsWith("/proc/self/fd/")) loadedFromCopy = true
      return original(module, file, flags)
    }) as typeof process.dlopen
    try {
      assert.strictEqual(typeof load(base).NativeNetlink, "function")
    } finally {
      process.dlopen = original
    }
    assert.isFalse(loadedFromCopy)
    assert.strictEqual(fs.statSync(copy(base)).uid, 65534)
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
