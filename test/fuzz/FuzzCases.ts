// Generators of malformed or odd CNI invocations: one fault per case on a valid baseline, with the codes that fault may get.
import fc from "fast-check"

/** The verbs a case runs (VERSION never reads stdin: covered by the junk-command faults). */
export const verbs = ["ADD", "DEL", "CHECK", "GC", "STATUS"] as const
export type Verb = (typeof verbs)[number]

/** Where a case's files may go and whether the kernel is real (the executable) or memory. */
export interface FuzzTarget {
  /** `ipam.dataDir` of the baseline (a fresh directory of the case at the executable level). */
  readonly dataDir: string
  /** Paths of prepared filesystem hazards (executable level only). */
  readonly hazards?: FilesystemHazards
}

/**
 * Paths prepared once per run under the sandbox: a regular file, a FIFO, a symlink to /dev/stdout,
 * a directory, and two mount points each call sees as a read-only and a full file system.
 */
export interface FilesystemHazards {
  readonly regularFile: string
  readonly fifo: string
  readonly stdoutLink: string
  readonly directory: string
  readonly readOnly: string
  readonly full: string
}

/** One invocation and what it may answer. */
export interface FuzzCase {
  readonly command: Verb | string
  /** CNI_* except CNI_COMMAND; undefined = unset. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdin: string | Uint8Array
  /** What was done to the baseline, for failure messages. */
  readonly fault: string
  /** Codes the fault may get; 0 = success. */
  readonly codes: ReadonlyArray<number>
}

/** The codes of a valid baseline per verb: CHECK of a container never added is 3. */
const baselineCodes: Readonly<Record<Verb, ReadonlyArray<number>>> = {
  ADD: [0],
  DEL: [0],
  CHECK: [3],
  GC: [0],
  STATUS: [0]
}

/** A fault of one part of the input: how to apply it and which codes it may get beside the baseline's. */
interface Fault {
  readonly name: string
  /** Codes when the fault is noticed. */
  readonly codes: ReadonlyArray<number>
  /** Whether the input may still be valid (then the baseline's codes are allowed too). */
  readonly mayPass: boolean
  readonly apply: (input: MutableInput) => void
}

interface MutableInput {
  command: string
  env: Record<string, string | undefined>
  conf: Record<string, unknown> & { ipam: Record<string, unknown> }
  /** Replaces the JSON text of `conf` when set (structure attacks). */
  text?: string | Uint8Array
}

const versionsFor = (verb: Verb): ReadonlyArray<string> =>
  verb === "GC" || verb === "STATUS"
    ? ["1.1.0"]
    : verb === "CHECK"
      ? ["0.4.0", "1.0.0", "1.1.0"]
      : ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

const baseline = (verb: Verb, version: string, target: FuzzTarget): MutableInput => ({
  command: verb,
  env: {
    CNI_CONTAINERID: "fuzz-c1",
    CNI_IFNAME: "eth0",
    CNI_NETNS: "/var/run/netns/fuzz",
    CNI_PATH: "/opt/cni/bin"
  },
  conf: {
    cniVersion: version,
    name: "fuzz",
    type: "bridge",
    ipam: {
      type: "routetable-ipam",
      ranges: [[{ subnet: "100.64.0.0/24", gateway: "100.64.0.1" }]],
      propagationTimeout: "20ms",
      dataDir: target.dataDir
    },
    ...(verb === "CHECK" ? { prevResult: { ips: [{ address: "100.64.0.5/24" }] } } : {}),
    ...(verb === "GC" ? { "cni.dev/valid-attachments": [{ containerID: "other", ifname: "eth0" }] } : {})
  }
})

/** Values of every JSON type, and the types each key of the configuration reference takes. */
const jsonSamples: ReadonlyArray<readonly [string, unknown]> = [
  ["null", null],
  ["boolean", true],
  ["number", 7],
  ["string", "x"],
  ["array", []],
  ["object", {}]
]

const ipamKeyTypes: Readonly<Record<string, ReadonlyArray<string>>> = {
  type: ["string"],
  ranges: ["array"],
  subnet: ["string"],
  rangeStart: ["string"],
  rangeEnd: ["string"],
  gateway: ["string"],
  routes: ["array"],
  dns: ["object"],
  excludeFirst: ["number"],
  excludeLast: ["number"],
  exclude: ["array"],
  propagationTimeout: ["number", "string"],
  routeProtocol: ["number"],
  table: ["number", "string"],
  device: ["string", "number"],
  metric: ["number"],
  maxAttempts: ["number"],
  tieBreak: ["boolean"],
  dataDir: ["string"],
  log: ["string", "object"],
  fabricHealth: ["object"]
}

/** Numbers at the edges of every numeric key's range, and beyond. `1e400` is written as a literal. */
const edgeNumbers = [
  0,
  -0,
  -1,
  0.5,
  1,
  4,
  5,
  19,
  19.999,
  20,
  32,
  254,
  255,
  256,
  1000,
  1001,
  1024,
  1025,
  4096,
  60000,
  60001,
  2147483647,
  2147483648,
  4294967295,
  4294967296,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e308,
  5e-324
]

/** Placeholder for a number JSON.stringify cannot write (Infinity): replaced by `1e400` in the text. */
const hugeLiteral = "__fuzz_1e400__"

/** Strings that stress paths, names and parsers: unicode, NUL, lone surrogates, traversal, whitespace, huge. */
const oddStrings: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\uFFFD",
    "../../etc",
    "/",
    "/tmp/../proc/1/x",
    "100.64.0.0/24",
    "100.64.1.0/16",
    "fd00:64::1/64",
    "fd00::/120",
    "100.64.0.300",
    "::",
    "0.0.0.0/0",
    "1s",
    "19ms",
    "20ms",
    "0.02s",
    "1.5s",
    "-1s",
    "1e3",
    "main",
    "local",
    "lo",
    "eth0",
    "eth0.100",
    "bird",
    "none",
    "fail",
    "proceed",
    "debug",
    "NONE",
    "日本語",
    "x".repeat(300),
    "a".repeat(70_000)
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ maxLength: 20 })
)

/** Paths an operator (or an attacker) may point dataDir or log.file at. */
const hazardPaths = (target: FuzzTarget): ReadonlyArray<string> => [
  "/proc/1/x",
  `/proc/self/fd/1`,
  "/proc/sysrq-trigger-not-really",
  "/sys/x",
  "/dev/null",
  "/dev/null/x",
  "/dev/full",
  "/dev/stdout",
  "/dev/fd/1",
  "/dev/stderr",
  "relative/path",
  `${target.dataDir}/../${target.dataDir.split("/").pop()}/nested/deeper`,
  ...(target.hazards === undefined
    ? []
    : [
        target.hazards.regularFile,
        `${target.hazards.regularFile}/x`,
        target.hazards.fifo,
        `${target.hazards.fifo}/x`,
        target.hazards.stdoutLink,
        target.hazards.directory,
        `${target.hazards.readOnly}/data`,
        `${target.hazards.full}/data`
      ])
]

/** Codes a right-typed but odd value of `key` may get (beside success). */
const valueCodes = (key: string): ReadonlyArray<number> => {
  switch (key) {
    case "ranges":
    case "subnet":
    case "rangeStart":
    case "rangeEnd":
    case "gateway":
    case "excludeFirst":
    case "excludeLast":
    case "exclude":
      // a smaller or empty pool: exhausted (ADD 100, STATUS 50); CHECK's address outside (103)
      return [6, 7, 100, 50, 103, 3]
    case "device":
      return [7, 5]
    case "dataDir":
      return [7, 5]
    case "fabricHealth":
      // an absent BIRD socket makes ADD 11 and STATUS 51
      return [6, 7, 11, 51]
    default:
      return [6, 7]
  }
}

const setIpam =
  (key: string, value: unknown) =>
  (input: MutableInput): void => {
    input.conf.ipam[key] = value
  }

/** A value of the wrong JSON type for an ipam key: code 6. */
const wrongTypeFault: fc.Arbitrary<Fault> = fc.constantFrom(...Object.keys(ipamKeyTypes)).chain((key) =>
  fc
    .constantFrom(...jsonSamples.filter(([type]) => !ipamKeyTypes[key]!.includes(type)))
    .map(([type, value]) => ({
      name: `ipam.${key} = ${type} ${JSON.stringify(value)}`,
      codes: [6],
      mayPass: false,
      apply: setIpam(key, value)
    }))
)

/** A right-typed value at the edges, or odd: accepted or 7 (or what a smaller pool answers). */
const oddValueFault = (target: FuzzTarget): fc.Arbitrary<Fault> =>
  fc.constantFrom(...Object.keys(ipamKeyTypes)).chain((key) => {
    const types = ipamKeyTypes[key]!
    const candidates: Array<fc.Arbitrary<unknown>> = []
    if (types.includes("number")) candidates.push(fc.constantFrom<unknown>(...edgeNumbers, hugeLiteral))
    // paths only from the prepared list: a random absolute path would really be written to
    if (key === "dataDir" || key === "log")
      candidates.push(fc.constantFrom(...hazardPaths(target), "", "relative", "\u0000", "/tmp/a\u0000b"))
    else if (types.includes("string")) candidates.push(oddStrings)
    if (key === "log")
      candidates.push(
        fc.record({
          file: fc.constantFrom(...hazardPaths(target)),
          level: fc.constantFrom("debug", "trace", "loud")
        })
      )
    if (key === "ranges")
      candidates.push(
        fc.array(
          fc.array(fc.record({ subnet: oddStrings, rangeStart: oddStrings }, { requiredKeys: ["subnet"] }), {
            maxLength: 3
          }),
          {
            maxLength: 3
          }
        )
      )
    if (key === "routes")
      candidates.push(
        fc.array(
          fc.record(
            {
              dst: fc.constantFrom("0.0.0.0/0", "::/0", "100.64.0.0/10", "bad"),
              gw: oddStrings,
              mtu: fc.constantFrom<unknown>(...edgeNumbers, hugeLiteral),
              advmss: fc.constantFrom<unknown>(...edgeNumbers),
              priority: fc.constantFrom<unknown>(...edgeNumbers),
              table: fc.constantFrom<unknown>(...edgeNumbers),
              scope: fc.constantFrom<unknown>(...edgeNumbers)
            },
            { requiredKeys: ["dst"] }
          ),
          { maxLength: 3 }
        )
      )
    if (key === "exclude") candidates.push(fc.array(oddStrings, { maxLength: 4 }))
    if (key === "dns")
      candidates.push(fc.record({ nameservers: fc.array(oddStrings, { maxLength: 2 }), domain: oddStrings }))
    if (key === "fabricHealth")
      candidates.push(
        fc.record({
          type: fc.constantFrom("none", "bird", "frr"),
          socket: fc.constantFrom("/nonexistent/bird.ctl", "relative", "/dev/null"),
          minEstablished: fc.constantFrom(...edgeNumbers),
          timeout: fc.constantFrom<unknown>("1ms", "100ms", 0, 5),
          onUnhealthy: fc.constantFrom("fail", "proceed", "explode")
        })
      )
    if (types.includes("boolean")) candidates.push(fc.boolean())
    const codes = valueCodes(key)
    return fc.oneof(...candidates).map((value) => ({
      name: `ipam.${key} = ${JSON.stringify(value)?.slice(0, 80)}`,
      codes,
      mayPass: true,
      apply: setIpam(key, value)
    }))
  })

/** Known keys with one edit: refused as a typo (7), unless the edit made it short or another known key. */
const typoFault: fc.Arbitrary<Fault> = fc
  .tuple(
    fc.constantFrom(...Object.keys(ipamKeyTypes)),
    fc.nat(),
    fc.constantFrom("swap", "drop", "double", "case")
  )
  .map(([key, at, edit]) => {
    const i = at % key.length
    const typo =
      edit === "drop"
        ? key.slice(0, i) + key.slice(i + 1)
        : edit === "double"
          ? key.slice(0, i) + key[i] + key.slice(i)
          : edit === "case"
            ? key.toUpperCase()
            : i + 1 < key.length
              ? key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2)
              : `${key}s`
    const passes = typo === key || typo.length < 4 || Object.keys(ipamKeyTypes).includes(typo)
    return { name: `ipam.${typo} (typo of ${key})`, codes: [7], mayPass: passes, apply: setIpam(typo, 1) }
  })

/** Unknown keys (ignored, or refused when they happen to be near a known one) with any value. */
const unknownKeyFault: fc.Arbitrary<Fault> = fc
  .tuple(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }))
  .map(([key, value]) => ({
    name: `ipam[${JSON.stringify(key)}]`,
    codes: [6, 7],
    mayPass: true,
    apply: setIpam(key, value)
  }))

/** `depth` nested arrays. */
const nestedArrays = (depth: number): unknown => {
  let value: unknown = []
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

/** Depth, size, duplicates, encodings: faults of the document rather than of a value. */
const structureFault: fc.Arbitrary<Fault> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 513, max: 20_000 }), fc.constantFrom("name", "ipam.routes", "x", "prevResult"))
    .map(([depth, where]) => ({
      name: `${depth} levels of nesting at ${where}`,
      codes: [6],
      mayPass: false,
      apply: (input: MutableInput) => {
        const deep = "[".repeat(depth) + "]".repeat(depth)
        const json = JSON.stringify(input.conf)
        input.text =
          where === "ipam.routes"
            ? json.replace('"ipam":{', `"ipam":{"routes":${deep},`)
            : `${json.slice(0, -1)},"${where}":${deep}}`
      }
    })),
  fc.integer({ min: 1, max: 60 }).map((depth) => ({
    name: `${depth} levels of nesting under an unknown key`,
    codes: [],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.conf.capabilities = nestedArrays(depth)
    }
  })),
  fc.constantFrom("name", "cniVersion", "ipam").map((key) => ({
    name: `duplicate key ${key} (the last one counts, as in Go)`,
    codes: [],
    mayPass: true,
    apply: (input: MutableInput) => {
      const json = JSON.stringify(input.conf)
      const decoy = key === "ipam" ? "{}" : '"0.0.9"'
      input.text = `{"${key}":${decoy},${json.slice(1)}`
    }
  })),
  fc.constantFrom("{", "[1,2]", '"text"', "null", "{]", "\u0000", "\ufeff{}", "{} {}").map((text) => ({
    name: `stdin ${JSON.stringify(text)}`,
    // a UTF-8 byte order mark is dropped by the decoder: "{}" then lacks cniVersion (1)
    codes: text.startsWith("\ufeff") ? [1] : [6],
    mayPass: false,
    apply: (input: MutableInput) => {
      input.text = text
    }
  })),
  fc.tuple(fc.integer({ min: 100, max: 1200 }), fc.integer({ min: 0, max: 1200 })).map(([sets, ips]) => ({
    name: `${sets} range sets and ${ips} prevResult addresses`,
    // one address per range set: ADD may find one exhausted (100); CHECK compares what it got (103)
    codes: [100, 103],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.conf.ipam.ranges = Array.from({ length: sets }, (_, i) => [
        { subnet: `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28` }
      ])
      input.conf.prevResult = {
        ips: Array.from({ length: ips }, (_, i) => ({
          address: `100.${64 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16 + 1}/28`
        }))
      }
    }
  })),
  fc.constant({
    name: "stdin larger than 1 MiB",
    codes: [6],
    mayPass: false,
    apply: (input: MutableInput) => {
      input.conf.padding = "x".repeat(1024 * 1024)
    }
  }),
  fc.constantFrom("name", "unknown").chain((where) =>
    fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]).map((bad) => ({
      name: `bytes ${bad.map((b) => b.toString(16)).join(" ")} (not UTF-8) in ${where}`,
      codes: where === "name" ? [7] : [],
      mayPass: where !== "name",
      apply: (input: MutableInput) => {
        const marker = "__fuzz_bytes__"
        if (where === "name") input.conf.name = `fuzz${marker}`
        else input.conf.note = marker
        const [head, tail] = JSON.stringify(input.conf).split(marker)
        const encoder = new TextEncoder()
        input.text = new Uint8Array([...encoder.encode(head), ...bad, ...encoder.encode(tail)])
      }
    }))
  ),
  oddStrings.map((name) => ({
    name: `name = ${JSON.stringify(name).slice(0, 60)}`,
    codes: [7],
    mayPass: /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) && name.length <= 255,
    apply: (input: MutableInput) => {
      input.conf.name = name
    }
  })),
  fc
    .constantFrom<unknown>(undefined, 1, "0.2.0", "1.2.0", "", "0.3.0", "0.4.0", "1.0.0", "1.1.0")
    .map((version) => ({
      name: `cniVersion = ${JSON.stringify(version)}`,
      codes: [1, 6],
      mayPass: true,
      apply: (input: MutableInput) => {
        input.conf.cniVersion = version
      }
    }))
)

/** The original plugin's interface: no stdin, CNI_ARGS CIDR/EXCLUDE_FIRST/EXCLUDE_LAST/LINK_INDEX. */
const legacyFault: fc.Arbitrary<Fault> = fc
  .record({
    cidr: fc.constantFrom("100.64.0.0/24", "100.64.0.5/24", "100.64.0.0/30", "fd00::/120", "bad", ""),
    first: fc.constantFrom("0", "1", "2", "-5", "0.5", "9999999999", "x"),
    last: fc.constantFrom("0", "1", "254", "-1", "1e3"),
    link: fc.constantFrom("-1", "0", "1", "7", "x")
  })
  .map(({ cidr, first, last, link }) => ({
    name: `no stdin, CNI_ARGS CIDR=${cidr};EXCLUDE_FIRST=${first};EXCLUDE_LAST=${last};LINK_INDEX=${link}`,
    // without stdin the version is 0.4.0: GC and STATUS are 1; a bad link index is the kernel's 5
    codes: [1, 4, 5, 7, 100, 101, 103],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.text = ""
      input.env.CNI_ARGS = `CIDR=${cidr};EXCLUDE_FIRST=${first};EXCLUDE_LAST=${last};LINK_INDEX=${link}`
    }
  }))

const cniArgKeys = [
  "IgnoreUnknown",
  "IP",
  "CIDR",
  "EXCLUDE_FIRST",
  "EXCLUDE_LAST",
  "LINK_INDEX",
  "K8S_POD_NAME",
  "FOO"
]

/** CNI_ARGS with any of its keys, odd values, malformed pairs. */
const cniArgsFault: fc.Arbitrary<Fault> = fc
  .array(
    fc.oneof(
      fc
        .tuple(
          fc.constantFrom(...cniArgKeys),
          fc.oneof(oddStrings, fc.constantFrom("1", "true", "100.64.0.9", "100.64.0.0/24", "-1"))
        )
        .map(([k, v]) => `${k}=${v}`),
      fc.constantFrom("novalue", "=x", "a=b=c", "")
    ),
    { minLength: 1, maxLength: 4 }
  )
  .map((pairs) => ({
    name: `CNI_ARGS=${JSON.stringify(pairs.join(";")).slice(0, 100)}`,
    // IP= outside the pool is 102; taken is 101; a CHECK of something else 103
    codes: [4, 101, 102, 103],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.env.CNI_ARGS = pairs.join(";")
    }
  }))

/** The other variables: unknown commands, missing ones, odd container IDs and interface names. */
const envFault: fc.Arbitrary<Fault> = fc.oneof(
  fc.constantFrom("add", "VERSIONS", "", " ADD", "ADD\u0000", "FETCH").map((command) => ({
    name: `CNI_COMMAND=${JSON.stringify(command)}`,
    codes: command === "" ? [4] : [4],
    mayPass: false,
    apply: (input: MutableInput) => {
      input.command = command
    }
  })),
  fc.tuple(fc.constantFrom("CNI_NETNS", "CNI_PATH"), oddStrings).map(([name, value]) => ({
    name: `${name}=${JSON.stringify(value).slice(0, 60)}`,
    // an IPAM plugin never enters the namespace nor runs other plugins: any value (but unset) passes
    codes: [4],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.env[name] = value
    }
  })),
  fc.constantFrom("CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS").map((name) => ({
    name: `${name} unset`,
    // GC and STATUS need none of them; DEL does without CNI_NETNS
    codes: [4],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.env[name] = undefined
    }
  })),
  fc
    .oneof(
      fc.integer({ min: 200, max: 1100 }).map((n) => "c".repeat(n)),
      fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,80}$/),
      oddStrings
    )
    .map((id) => ({
      name: `CNI_CONTAINERID=${JSON.stringify(id).slice(0, 60)} (${id.length} chars)`,
      codes: [4],
      mayPass: true,
      apply: (input: MutableInput) => {
        input.env.CNI_CONTAINERID = id
      }
    })),
  fc
    .oneof(
      oddStrings,
      fc.constantFrom(".", "..", "a/b", "a:b", "a b", "x".repeat(16), "ünïcødé", "eth\uFFFD", "e\u0085")
    )
    .map((ifname) => ({
      name: `CNI_IFNAME=${JSON.stringify(ifname).slice(0, 60)}`,
      codes: [4],
      mayPass: true,
      apply: (input: MutableInput) => {
        input.env.CNI_IFNAME = ifname
      }
    }))
)

/** Garbage where DEL/CHECK read prevResult and GC reads its list. */
const runtimeDataFault: fc.Arbitrary<Fault> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({
    name: `prevResult = ${JSON.stringify(value).slice(0, 60)}`,
    codes: [6, 7, 103, 3],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.conf.prevResult = value
    }
  })),
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({
    name: `cni.dev/valid-attachments = ${JSON.stringify(value).slice(0, 60)}`,
    codes: [6, 7],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.conf["cni.dev/valid-attachments"] = value
    }
  })),
  fc.array(oddStrings, { maxLength: 3 }).map((ips) => ({
    name: `runtimeConfig.ips = ${JSON.stringify(ips).slice(0, 60)}`,
    codes: [7, 101, 102],
    mayPass: true,
    apply: (input: MutableInput) => {
      input.conf.runtimeConfig = { ips }
    }
  }))
)

/** Every kind of fault, weighted towards the configuration reference. */
const faults = (target: FuzzTarget): fc.Arbitrary<Fault> =>
  fc.oneof(
    {
      arbitrary: fc.constant<Fault>({
        name: "none (valid baseline)",
        codes: [],
        mayPass: true,
        apply: () => {}
      }),
      weight: 1
    },
    { arbitrary: wrongTypeFault, weight: 3 },
    { arbitrary: oddValueFault(target), weight: 6 },
    { arbitrary: typoFault, weight: 2 },
    { arbitrary: unknownKeyFault, weight: 1 },
    { arbitrary: structureFault, weight: 4 },
    { arbitrary: legacyFault, weight: 1 },
    { arbitrary: cniArgsFault, weight: 2 },
    { arbitrary: envFault, weight: 3 },
    { arbitrary: runtimeDataFault, weight: 2 }
  )

/** One case: a verb, a valid baseline for it, and one fault applied. */
export const fuzzCase = (target: FuzzTarget): fc.Arbitrary<FuzzCase> =>
  fc
    .constantFrom(...verbs)
    .chain((verb) => fc.tuple(fc.constant(verb), fc.constantFrom(...versionsFor(verb)), faults(target)))
    .map(([verb, version, fault]) => {
      const input = baseline(verb, version, target)
      fault.apply(input)
      const stdin = input.text ?? JSON.stringify(input.conf).replaceAll(`"${hugeLiteral}"`, "1e400")
      const codes = new Set(fault.codes)
      if (fault.mayPass) for (const code of baselineCodes[verb]) codes.add(code)
      return {
        command: input.command,
        env: input.env,
        stdin,
        fault: `${verb} ${version}: ${fault.name}`,
        codes: [...codes]
      }
    })
