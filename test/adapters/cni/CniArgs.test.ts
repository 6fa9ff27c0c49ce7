// Tests of CNI_ARGS parsing: known keys, IgnoreUnknown, malformed pairs, the original plugin's keys.
import { assert, describe, it } from "@effect/vitest"
import { parseCniArgs } from "../../../src/adapters/cni/CniArgs.ts"
import { CniError } from "../../../src/adapters/cni/CniError.ts"

const failure = (text: string): CniError => {
  const parsed = parseCniArgs(text)
  assert.instanceOf(parsed, CniError, text)
  return parsed as CniError
}

describe("CniArgs", () => {
  it("parseCniArgs - empty and Kubernetes' usual keys", () => {
    assert.deepStrictEqual(parseCniArgs(""), {})
    assert.deepStrictEqual(
      parseCniArgs("K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u"),
      { podNamespace: "default", podName: "p" }
    )
  })

  it("parseCniArgs - the pod: podman sends K8S_POD_NAME alone (with IgnoreUnknown=1); empty values are absent", () => {
    assert.deepStrictEqual(parseCniArgs("IgnoreUnknown=1;K8S_POD_NAME=web-1"), { podName: "web-1" })
    assert.deepStrictEqual(parseCniArgs("K8S_POD_NAMESPACE=;K8S_POD_NAME="), {})
    assert.deepStrictEqual(
      parseCniArgs("IgnoreUnknown=1;FOO=bar;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns"),
      {
        podNamespace: "kube-system",
        podName: "dns"
      }
    )
  })

  it("parseCniArgs - IP and the original plugin's keys", () => {
    assert.deepStrictEqual(parseCniArgs("IP=100.64.0.5/24,fd00::5"), { ip: "100.64.0.5/24,fd00::5" })
    assert.deepStrictEqual(parseCniArgs("CIDR=100.64.0.0/24;EXCLUDE_FIRST=3;EXCLUDE_LAST=2;LINK_INDEX=-1;"), {
      cidr: "100.64.0.0/24",
      excludeFirst: 3,
      excludeLast: 2,
      linkIndex: -1
    })
  })

  it("parseCniArgs - unknown keys: code 4 unless IgnoreUnknown is 1 or true", () => {
    const error = failure("FOO=bar;IP=100.64.0.5")
    assert.strictEqual(error.code, 4)
    assert.include(error.msg, "CNI_ARGS: unknown args FOO=bar")
    assert.deepStrictEqual(parseCniArgs("FOO=bar;IgnoreUnknown=1;IP=100.64.0.5"), { ip: "100.64.0.5" })
    assert.deepStrictEqual(parseCniArgs("IgnoreUnknown=TRUE;FOO=bar"), {})
    assert.strictEqual(failure("IgnoreUnknown=0;FOO=bar").code, 4)
    assert.include(failure("IgnoreUnknown=maybe").msg, "IgnoreUnknown=maybe")
  })

  it("parseCniArgs - malformed pairs and values name CNI_ARGS and the pair", () => {
    assert.include(failure("IP").msg, 'CNI_ARGS: invalid pair "IP"')
    assert.include(failure("IP=a=b").msg, "invalid pair")
    assert.include(failure("=x").msg, "invalid pair")
    assert.include(failure("EXCLUDE_FIRST=-1").msg, "EXCLUDE_FIRST=-1")
    assert.include(failure("EXCLUDE_LAST=two").msg, "EXCLUDE_LAST=two")
    assert.include(failure("LINK_INDEX=-2").msg, "LINK_INDEX=-2")
  })
})
