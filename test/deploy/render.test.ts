// deploy/bird/render.ts: the template rendered for a node, with the lab's knobs (hold time, no long-lived GR), parsed by BIRD.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type BirdConfigOptions, renderBirdConfig } from "../../deploy/bird/render.ts"
import { hasCommand } from "../support/Privileges.ts"

const node: BirdConfigOptions = {
  routerId: "198.18.0.1",
  localAddress: "198.18.0.1",
  localAddress6: "fd00:198:18::1",
  peers: ["198.18.0.2", "198.18.0.3"],
  podPrefixes4: ["100.64.0.0/10"],
  podPrefixes6: ["fd00:100::/48"]
}

/** Whether BIRD accepts a configuration (`bird -p`); undefined when bird is not installed. */
const birdAccepts = (config: string): boolean | undefined => {
  if (!hasCommand("bird")) return undefined
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rtipam-render-"))
  try {
    fs.writeFileSync(path.join(dir, "bird.conf"), config)
    return spawnSync("bird", ["-p", "-c", path.join(dir, "bird.conf")]).status === 0
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("renderBirdConfig", () => {
  it("the shipped defaults: ms time formats, graceful restart with its stale-route time, long-lived GR, both families", () => {
    const config = renderBirdConfig(node)
    for (const line of [
      "timeformat protocol iso long ms;",
      "timeformat base iso long ms;",
      "graceful restart time 120;",
      "long lived graceful restart on;",
      "long lived stale time 3600;",
      "  ipv6 {",
      "    next hop address fd00:198:18::1;",
      "  # default BGP timers"
    ]) {
      assert.include(config, line)
    }
    assert.notMatch(config, /# (BEGIN|END) /, "no block markers left")
    assert.notMatch(config, /^\s*hold time/m)
    assert.notStrictEqual(birdAccepts(config), false)
  })

  it("lab knobs: hold time 3 (keepalive 1) and no long-lived GR; IPv4 only drops the IPv6 blocks", () => {
    const config = renderBirdConfig({
      ...node,
      podPrefixes6: [],
      holdTime: 3,
      longLivedGracefulRestart: false,
      fastTimers: true
    })
    assert.include(config, "  hold time 3;\n  keepalive time 1;")
    assert.include(config, "connect delay time 1;")
    assert.notInclude(config, "long lived")
    assert.include(config, "graceful restart time 120;")
    assert.notInclude(config, "ipv6")
    assert.notMatch(config, /# (BEGIN|END) /)
    assert.notStrictEqual(birdAccepts(config), false)
  })

  it("refuses a hold time BGP does not allow", () => {
    for (const holdTime of [0, 2, 1.5, 70_000]) {
      assert.throws(() => renderBirdConfig({ ...node, holdTime }), /hold time/)
    }
  })
})
