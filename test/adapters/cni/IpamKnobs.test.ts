// Tests of the plugin's own ipam keys: defaults, accepted forms, and messages naming the key.
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { CniError } from "../../../src/adapters/cni/CniError.ts"
import { type IpamKnobs, parseKnobs } from "../../../src/adapters/cni/IpamKnobs.ts"
import type { IpamConf } from "../../../src/adapters/cni/NetConf.ts"

const knobs = (ipam: IpamConf): IpamKnobs => {
  const parsed = parseKnobs(ipam)
  if (parsed instanceof CniError) throw new Error(parsed.msg)
  return parsed
}
const failure = (ipam: IpamConf): CniError => {
  const parsed = parseKnobs(ipam)
  assert.instanceOf(parsed, CniError, JSON.stringify(ipam))
  assert.strictEqual((parsed as CniError).code, 7)
  return parsed as CniError
}

describe("IpamKnobs", () => {
  it("parseKnobs - defaults", () => {
    const k = knobs({})
    assert.strictEqual(Duration.toMillis(k.propagationTimeout), 250)
    assert.strictEqual(k.routeProtocol, 192)
    assert.strictEqual(k.table, 254)
    assert.isUndefined(k.device)
    assert.strictEqual(k.metric, 4096)
    assert.strictEqual(k.maxAttempts, 10)
    assert.isTrue(k.tieBreak)
    assert.strictEqual(k.dataDir, "/var/lib/cni/routetable-ipam")
    assert.deepStrictEqual(k.log, {
      file: undefined,
      level: "Warn",
      format: "text",
      maxBytes: 10 * 1024 * 1024
    })
  })

  it("parseKnobs - propagationTimeout as milliseconds or a duration string", () => {
    const ms = (value: number | string) =>
      Duration.toMillis(knobs({ propagationTimeout: value }).propagationTimeout)
    assert.strictEqual(ms(100), 100)
    assert.strictEqual(ms("250ms"), 250)
    assert.strictEqual(ms("1s"), 1000)
    assert.strictEqual(ms("1.5s"), 1500)
    assert.strictEqual(ms("75"), 75)
    assert.include(failure({ propagationTimeout: "soon" }).msg, "ipam.propagationTimeout")
    assert.include(failure({ propagationTimeout: -1 }).msg, "ipam.propagationTimeout")
    assert.include(failure({ propagationTimeout: "2m" }).msg, "between 20 and 60000")
  })

  it("parseKnobs - propagationTimeout has a floor of 20 ms, said with its reason (issue 8)", () => {
    const ms = (value: number | string) =>
      Duration.toMillis(knobs({ propagationTimeout: value }).propagationTimeout)
    assert.strictEqual(ms(20), 20)
    assert.strictEqual(ms("0.02s"), 20)
    for (const below of [0, 19, 19.99, "19.9ms", "0s", "0.01s"]) {
      const msg = failure({ propagationTimeout: below }).msg
      assert.include(msg, "ipam.propagationTimeout")
      assert.include(msg, "below the floor of 20 ms")
    }
  })

  it("parseKnobs - metric must stay behind every daemon's (above 1024) (issue 8)", () => {
    assert.strictEqual(knobs({ metric: 1025 }).metric, 1025)
    assert.strictEqual(knobs({ metric: 5000 }).metric, 5000)
    assert.strictEqual(knobs({ metric: 4294967295 }).metric, 4294967295)
    for (const low of [0, 20, 32, 1024]) assert.include(failure({ metric: low }).msg, "ipam.metric")
    assert.include(failure({ metric: 1024 }).msg, "1025")
    assert.include(failure({ metric: 2 ** 32 }).msg, "ipam.metric")
  })

  it("parseKnobs - dataDir and log.file: not on /proc or /sys, no NUL, log.file not stdin/stdout (issue 12)", () => {
    for (const dataDir of ["/proc/1/x", "/proc", "/sys/fs/x", "/a/../proc/x", "/tmp/a\u0000b"]) {
      assert.include(failure({ dataDir }).msg, "ipam.dataDir", dataDir)
    }
    for (const file of [
      "/dev/stdout",
      "/dev/fd/1",
      "/dev//fd/./1",
      "/dev/stdin",
      "/proc/self/fd/1",
      "/sys/x",
      "/tmp/\u0000"
    ]) {
      assert.include(failure({ log: file }).msg, "ipam.log.file", file)
      assert.include(failure({ log: { file } }).msg, "ipam.log.file", file)
    }
    assert.strictEqual(knobs({ dataDir: "/run/routetable-ipam" }).dataDir, "/run/routetable-ipam")
    assert.strictEqual(knobs({ log: "/dev/stderr" }).log.file, "/dev/stderr")
    assert.strictEqual(knobs({ log: "/var/log/procedures.log" }).log.file, "/var/log/procedures.log")
  })

  it("parseKnobs - routeProtocol refuses the kernel's reserved 0..4", () => {
    assert.strictEqual(knobs({ routeProtocol: 5 }).routeProtocol, 5)
    assert.strictEqual(knobs({ routeProtocol: 255 }).routeProtocol, 255)
    for (const reserved of [0, 1, 2, 3, 4]) {
      assert.include(
        failure({ routeProtocol: reserved }).msg,
        `ipam.routeProtocol: ${reserved} is reserved by the kernel`
      )
    }
    assert.include(failure({ routeProtocol: 256 }).msg, "5..255")
    assert.include(failure({ routeProtocol: 19.5 }).msg, "ipam.routeProtocol")
  })

  it("parseKnobs - table, device, metric, maxAttempts, dataDir, log", () => {
    assert.strictEqual(knobs({ table: "main" }).table, 254)
    assert.strictEqual(knobs({ table: 100 }).table, 100)
    assert.include(failure({ table: 0 }).msg, "ipam.table")
    assert.include(failure({ table: "local" }).msg, "ipam.table")
    assert.strictEqual(knobs({ device: "vxlan0" }).device, "vxlan0")
    assert.strictEqual(knobs({ device: 3 }).device, 3)
    assert.include(failure({ device: "a/b" }).msg, "ipam.device")
    assert.include(failure({ device: 0 }).msg, "ipam.device")
    assert.include(failure({ metric: -1 }).msg, "ipam.metric")
    assert.include(failure({ maxAttempts: 0 }).msg, "ipam.maxAttempts")
    assert.include(failure({ dataDir: "relative/dir" }).msg, "ipam.dataDir")
    assert.deepStrictEqual(knobs({ log: "/var/log/ipam.log" }).log, {
      file: "/var/log/ipam.log",
      level: "Warn",
      format: "text",
      maxBytes: 10 * 1024 * 1024
    })
    assert.deepStrictEqual(knobs({ log: { level: "DEBUG" } }).log, {
      file: undefined,
      level: "Debug",
      format: "text",
      maxBytes: 10 * 1024 * 1024
    })
    assert.deepStrictEqual(knobs({ log: { format: "json", maxBytes: 0 } }).log, {
      file: undefined,
      level: "Warn",
      format: "json",
      maxBytes: 0
    })
    assert.strictEqual(knobs({ log: { maxBytes: 4096 } }).log.maxBytes, 4096)
    for (const format of ["JSON", "logfmt", ""]) {
      const error = failure({ log: { format } })
      assert.strictEqual(error.code, 7)
      assert.include(error.msg, "ipam.log.format")
    }
    for (const maxBytes of [-1, 1.5, Number.POSITIVE_INFINITY]) {
      const error = failure({ log: { maxBytes } })
      assert.strictEqual(error.code, 7)
      assert.include(error.msg, "ipam.log.maxBytes")
    }
    assert.include(failure({ log: { level: "loud" } }).msg, "ipam.log.level")
    assert.include(failure({ log: "ipam.log" }).msg, "ipam.log.file")
  })
})

describe("IpamKnobs fabricHealth", () => {
  it("parseKnobs - absent or none: never asked, fail when unhealthy", () => {
    for (const ipam of [{}, { fabricHealth: { type: "none" } }]) {
      const k = knobs(ipam)
      assert.deepStrictEqual(k.fabricHealth, { type: "none" })
      assert.strictEqual(k.onUnhealthy, "fail")
    }
  })

  it("parseKnobs - bird with every option, and with none (adapter defaults)", () => {
    const k = knobs({
      fabricHealth: {
        type: "bird",
        socket: "/run/bird/bird.ctl",
        minEstablished: 2,
        protocols: ["peer1", "peer2"],
        timeout: "1.5s",
        onUnhealthy: "proceed"
      }
    })
    assert.strictEqual(k.onUnhealthy, "proceed")
    assert.strictEqual(k.fabricHealth.type, "bird")
    if (k.fabricHealth.type !== "bird") return
    assert.strictEqual(k.fabricHealth.socket, "/run/bird/bird.ctl")
    assert.strictEqual(k.fabricHealth.minEstablished, 2)
    assert.deepStrictEqual(k.fabricHealth.protocols, ["peer1", "peer2"])
    assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(k.fabricHealth.timeout!)), 1500)
    assert.deepStrictEqual(knobs({ fabricHealth: { type: "bird" } }).fabricHealth, { type: "bird" })
  })

  it("parseKnobs - fabricHealth messages name the field", () => {
    assert.include(failure({ fabricHealth: {} }).msg, "ipam.fabricHealth.type: missing")
    assert.include(
      failure({ fabricHealth: { type: "frr" } }).msg,
      'ipam.fabricHealth.type: "frr" is not supported'
    )
    assert.include(
      failure({ fabricHealth: { type: "bird", socket: "bird.ctl" } }).msg,
      "ipam.fabricHealth.socket"
    )
    assert.include(
      failure({ fabricHealth: { type: "bird", minEstablished: 0 } }).msg,
      "ipam.fabricHealth.minEstablished"
    )
    assert.include(
      failure({ fabricHealth: { type: "bird", protocols: [] } }).msg,
      "ipam.fabricHealth.protocols"
    )
    assert.include(
      failure({ fabricHealth: { type: "bird", protocols: ["a b"] } }).msg,
      "ipam.fabricHealth.protocols[0]"
    )
    assert.include(
      failure({ fabricHealth: { type: "bird", timeout: "soon" } }).msg,
      "ipam.fabricHealth.timeout"
    )
    assert.include(failure({ fabricHealth: { type: "bird", timeout: 0 } }).msg, "ipam.fabricHealth.timeout")
    assert.include(
      failure({ fabricHealth: { type: "none", onUnhealthy: "maybe" } }).msg,
      'ipam.fabricHealth.onUnhealthy: "maybe" must be "fail" or "proceed"'
    )
  })
})
