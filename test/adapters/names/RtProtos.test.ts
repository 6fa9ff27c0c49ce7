// Route protocol names as iproute2 reads them: built-in names, rt_protos (etc, else usr), rt_protos.d/*.conf.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  builtInProtocolNames,
  parseRtProtos,
  readProtocolNames
} from "../../../src/adapters/names/RtProtos.ts"

const withDirs = <A>(body: (dirs: { etc: string; usr: string }) => Effect.Effect<A>) =>
  Effect.gen(function* () {
    const root = mkdtempSync(path.join(tmpdir(), "rtipam-rtprotos-"))
    const dirs = { etc: path.join(root, "etc"), usr: path.join(root, "usr") }
    mkdirSync(path.join(dirs.etc, "rt_protos.d"), { recursive: true })
    mkdirSync(path.join(dirs.usr, "rt_protos.d"), { recursive: true })
    return yield* body(dirs).pipe(
      Effect.ensuring(Effect.sync(() => rmSync(root, { recursive: true, force: true })))
    )
  })

describe("RtProtos", () => {
  it("number and name per line; hex numbers; comments, blank and malformed lines skipped; > 255 ignored", () => {
    const names = parseRtProtos(
      [
        "# Reserved protocols.",
        "12\tbird",
        "0xc0 routetable-ipam # ours",
        "",
        "bad line",
        "300 big",
        "42"
      ].join("\n")
    )
    assert.deepStrictEqual(
      [...names],
      [
        [12, "bird"],
        [192, "routetable-ipam"]
      ]
    )
  })

  it.effect("no files: iproute2's built-in names (what `ip route` prints in a bare image)", () =>
    withDirs((dirs) =>
      Effect.gen(function* () {
        const names = yield* readProtocolNames(dirs)
        assert.deepStrictEqual([...names], [...builtInProtocolNames])
        assert.strictEqual(names.get(12), "bird")
      })
    )
  )

  it.effect(
    "etc/rt_protos is read, usr/rt_protos only without it; rt_protos.d/*.conf override, etc over usr",
    () =>
      withDirs((dirs) =>
        Effect.gen(function* () {
          writeFileSync(path.join(dirs.usr, "rt_protos"), "12 usr-bird\n77 usr-only\n")
          const fromUsr = yield* readProtocolNames(dirs)
          assert.strictEqual(fromUsr.get(12), "usr-bird")
          assert.strictEqual(fromUsr.get(77), "usr-only")
          writeFileSync(path.join(dirs.etc, "rt_protos"), "12 etc-bird\n")
          writeFileSync(path.join(dirs.usr, "rt_protos.d", "a.conf"), "192 from-usr-a\n193 usr-a\n")
          writeFileSync(path.join(dirs.usr, "rt_protos.d", "b.conf"), "194 usr-b\n")
          writeFileSync(path.join(dirs.etc, "rt_protos.d", "a.conf"), "192 routetable-ipam\n")
          writeFileSync(path.join(dirs.etc, "rt_protos.d", "README"), "195 not-a-conf\n")
          const names = yield* readProtocolNames(dirs)
          assert.strictEqual(names.get(12), "etc-bird")
          assert.isFalse(names.has(77), "usr/rt_protos is not read when etc/rt_protos exists")
          assert.strictEqual(names.get(192), "routetable-ipam", "etc's a.conf replaces usr's a.conf")
          assert.isFalse(names.has(193), "usr's a.conf is not read at all")
          assert.strictEqual(names.get(194), "usr-b")
          assert.isFalse(names.has(195), "only *.conf files count")
          assert.strictEqual(names.get(4), "static", "built-in names not in the files remain")
        })
      )
  )
})
