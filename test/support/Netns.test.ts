// The namespace harness itself: private, enterable both ways, children usable as CNI_NETNS, closed by PID.
import { afterEach, assert, it } from "@effect/vitest"
import { currentNetns } from "./NetnsGuard.ts"
import { type EnterMode, Netns } from "./Netns.ts"
import { canUnshareNet, hasCommand, isRoot, privileged } from "./Privileges.ts"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const open: Array<Netns> = []

privileged(
  "needs `unshare -rn`, nsenter and ip",
  canUnshareNet() && hasCommand("nsenter") && hasCommand("ip")
)("Netns", () => {
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ns) => ns.close()))
  })

  const modes: ReadonlyArray<EnterMode> = isRoot() ? ["net", "user+net"] : ["user+net"]
  for (const enter of modes) {
    it(`${enter}: commands run in a private namespace; a child takes a veth end; close kills holders`, async () => {
      const ns = await Netns.create({ enter })
      open.push(ns)
      assert.notStrictEqual(ns.id, currentNetns())
      assert.strictEqual((await ns.run("readlink", ["/proc/self/ns/net"])).trim(), ns.id)
      assert.match(await ns.run("ip", ["-o", "link", "show", "lo"]), /state UNKNOWN|,UP/)

      const child = await ns.createChild()
      assert.notStrictEqual(child.id, ns.id)
      await ns.run("ip", [
        "link",
        "add",
        "vethA",
        "type",
        "veth",
        "peer",
        "name",
        "vethB",
        "netns",
        child.path
      ])
      assert.match(await child.run("ip", ["-o", "link"]), /vethB/)
      assert.notMatch(await child.run("ip", ["-o", "link"]), /vethA/)
      assert.match(await ns.run("ip", ["-o", "link"]), /vethA/)

      const guard = await ns.exec(process.execPath, [
        "-e",
        `import('${new URL("./NetnsGuard.ts", import.meta.url).href}').then((m) => { m.assertPrivateNetns(); console.log('inside') })`
      ])
      assert.strictEqual(guard.stdout.trim(), "inside", guard.stderr)

      await ns.close()
      assert.isFalse(alive(ns.pid))
      assert.isFalse(alive(child.pid))
    })
  }

  it("exec passes stdin and env, and reports exit codes", async () => {
    const ns = await Netns.create()
    open.push(ns)
    const result = await ns.exec("sh", ["-c", 'cat; echo "$GREETING"; exit 3'], {
      stdin: "from stdin\n",
      env: { GREETING: "hello" }
    })
    assert.deepStrictEqual(result, { code: 3, stdout: "from stdin\nhello\n", stderr: "" })
  })
})
