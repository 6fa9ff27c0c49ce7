// Node names from a hosts(5)-format file: canonical name of the first line per address; a named file must exist.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { parseHostsFile, readNodeNames } from "../../../src/adapters/names/HostsFile.ts"
import { keyOf, parseIp } from "../../../src/domain/Ip.ts"

const key = (text: string) => keyOf(Option.getOrThrow(parseIp(text)))

describe("HostsFile", () => {
  it("canonical name per address, comments and blank lines ignored, the first line of an address wins", () => {
    const names = parseHostsFile(
      [
        "# nodes of the cluster",
        "127.0.0.1 localhost",
        "",
        "198.18.0.2\tnode-b node-b.example  # the second node",
        "198.18.0.2 other-b",
        "   198.18.0.3   node-c",
        "fd00:198:18::2 node-b",
        "fe80::1%eth0 link-local",
        "198.18.0.4",
        "not-an-address name"
      ].join("\n")
    )
    assert.strictEqual(names.get(key("198.18.0.2")), "node-b")
    assert.strictEqual(names.get(key("198.18.0.3")), "node-c")
    assert.strictEqual(names.get(key("fd00:198:18::2")), "node-b")
    assert.strictEqual(names.get(key("127.0.0.1")), "localhost")
    assert.isFalse(names.has(key("198.18.0.4")), "an address without a name names nothing")
    assert.strictEqual(names.size, 4)
  })

  it.effect("a file the operator named must be readable; the default one may be missing", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(path.join(tmpdir(), "rtipam-hosts-"))
      try {
        const file = path.join(dir, "nodes")
        writeFileSync(file, "198.18.0.2 node-b\n")
        const read = yield* readNodeNames(file, true)
        assert.strictEqual(read.get(key("198.18.0.2")), "node-b")
        const missing = path.join(dir, "absent")
        const error = yield* Effect.flip(readNodeNames(missing, true))
        assert.strictEqual(error.file, missing)
        assert.include(error.message, "ENOENT")
        assert.strictEqual((yield* readNodeNames(missing, false)).size, 0)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  )
})
