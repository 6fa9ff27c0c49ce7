// The bundle's payload line: what the build encodes is read back exactly, and a damaged file is refused, never run.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  type BundleLayout,
  BundlePayloadError,
  encodeBundlePayload,
  readBundlePayload
} from "../../src/app/entry/bundlePayload.ts"
import { freshDirectory } from "./runExecutable.ts"

const idOf = (body: string) => createHash("sha256").update(body).digest("hex").slice(0, 16)

// newlines, a block-comment end and a base64-looking run: all must survive the line comment
const program = "(function (exports, require, module) {const a = /x*/g\nconst b = `two\nlines`\n/* c */\n})"
// larger than the program: decoded in several chunks of the scratch buffer
const codeCache = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7919) % 256)
const addon = Uint8Array.from({ length: 1_001 }, (_, i) => (i * 31) % 256)

describe("bundle payload line", () => {
  let directory = ""
  let layout: BundleLayout
  let line = ""
  // what scripts/build.ts writes: the outer layer, then the payload line
  const outer = '#!/usr/bin/env node\n"use strict";console.log("outer")\n'
  const write = (name: string, text: string): string => {
    const file = path.join(directory, name)
    fs.writeFileSync(file, text, "latin1")
    return file
  }

  beforeAll(() => {
    directory = freshDirectory("payload")
    ;({ layout, line } = encodeBundlePayload({ program, codeCache, addon }, idOf))
  })
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }))

  it("is one line of a line comment, without the program's newlines", () => {
    assert.isTrue(line.startsWith(`//routetable-ipam payload ${layout.id}:`))
    assert.notInclude(line, "\n")
    assert.notInclude(line, "\r")
    assert.notStrictEqual(layout.newlineEscape, "")
  })

  it("reads back the program text, the code cache and the addon exactly", () => {
    const payload = readBundlePayload(write("whole", `${outer}${line}\n`), layout)
    assert.strictEqual(payload.program, program)
    assert.deepStrictEqual(new Uint8Array(payload.codeCache ?? []), codeCache)
    assert.deepStrictEqual(new Uint8Array(payload.addonBytes()), addon)
  })

  it("runs as JavaScript: the payload is a comment", () => {
    const file = write("whole.cjs", `${outer}${line}\n`)
    const run = spawnSync(process.execPath, [file], { encoding: "utf8" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.strictEqual(run.stdout, "outer\n")
  })

  it("reads back a program longer than one read (256 KiB), newlines on both sides of a chunk boundary", () => {
    const long = `${"a\n".repeat(140_000)}${"*/".repeat(30_000)}\n`
    const encoded = encodeBundlePayload({ program: long, codeCache, addon }, idOf)
    const payload = readBundlePayload(write("long", `${outer}${encoded.line}\n`), encoded.layout)
    assert.strictEqual(payload.program, long)
  })

  it("without a code cache: no cache, the rest exact", () => {
    const bare = encodeBundlePayload({ program, codeCache: undefined, addon }, idOf)
    const payload = readBundlePayload(write("bare", `${outer}${bare.line}\n`), bare.layout)
    assert.isUndefined(payload.codeCache)
    assert.strictEqual(payload.program, program)
    assert.deepStrictEqual(new Uint8Array(payload.addonBytes()), addon)
  })

  /** Reading `text` as a bundle of `layoutOfFile` (addon included) fails with a BundlePayloadError matching `pattern`. */
  const refused = (text: string, layoutOfFile: BundleLayout, pattern: RegExp) => {
    const file = write("damaged", text)
    let failure: unknown
    try {
      readBundlePayload(file, layoutOfFile).addonBytes()
    } catch (error) {
      failure = error
    }
    assert.instanceOf(failure, BundlePayloadError)
    assert.match((failure as Error).message, pattern)
  }

  it("refuses a truncated file: by one byte, or cut inside the payload", () => {
    const whole = `${outer}${line}\n`
    refused(whole.slice(0, -1), layout, /does not end with the payload line/)
    refused(whole.slice(0, outer.length + 1000), layout, /shorter than its payload line/)
  })

  it("refuses a file with bytes appended", () => {
    refused(`${outer}${line}\n\n`, layout, /does not end with the payload line/)
  })

  it("refuses the payload of another build (same sizes, another id)", () => {
    const other = encodeBundlePayload({ program: program.replace("a", "z"), codeCache, addon }, idOf)
    assert.strictEqual(other.line.length, line.length)
    refused(`${outer}${other.line}\n`, layout, /payload line of build/)
  })

  it("refuses a code cache or an addon section with a foreign character", () => {
    const cacheStart = line.length - layout.addonBase64Length - layout.codeCacheBase64Length
    const inCache = `${line.slice(0, cacheStart + 10)}#${line.slice(cacheStart + 11)}`
    refused(`${outer}${inCache}\n`, layout, /code cache section decodes to \d+ bytes, expected 600000/)
    const addonStart = line.length - layout.addonBase64Length
    const inAddon = `${line.slice(0, addonStart + 10)}#${line.slice(addonStart + 11)}`
    refused(`${outer}${inAddon}\n`, layout, /netlink addon section decodes to \d+ bytes, expected 1001/)
  })

  it("refuses to encode a program a line comment cannot hold", () => {
    assert.throws(() => encodeBundlePayload({ program: "a\rb", codeCache, addon }, idOf), /ASCII/)
    assert.throws(() => encodeBundlePayload({ program: "a\u2028b", codeCache, addon }, idOf), /ASCII/)
  })
})
