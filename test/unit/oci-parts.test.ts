/**
 * Tests for the pieces src/oci/Spec.ts folds together: sizes, users, hosts/resolv.conf, seccomp conversion,
 * the exact JSON codec, sysctl names, ulimit values, devices, mounts, capability errors, and which host facts
 * a task needs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { normaliseCapability, resolveCapabilities } from "../../src/oci/Capabilities.js"
import { allHostDevices, mergeDevices, nomadDevices, taskDevices } from "../../src/oci/Devices.js"
import { hostFactsNeeded } from "../../src/oci/HostFactsNeeded.js"
import {
  isLoopbackAddress,
  parseExtraHost,
  parseResolvConf,
  renderHosts,
  renderResolvConf,
  resolvConfFromDnsBlock,
  withoutLoopbackNameservers
} from "../../src/oci/Hosts.js"
import {
  isBindMount,
  mergeMounts,
  nomadVolumeMounts,
  parentsFirst,
  resolveMountSource,
  taskDirectoryMounts,
  taskDirectoryTargets,
  taskMounts
} from "../../src/oci/Mounts.js"
import type { Mount } from "../../src/oci/RuntimeSpec.js"
import { customSeccompProfile, defaultSeccompProfile, parseKernelVersion } from "../../src/oci/Seccomp.js"
import { ramInBytes } from "../../src/oci/Size.js"
import { decodeJson, encodeJson } from "../../src/oci/SpecJson.js"
import { checkSysctl } from "../../src/oci/Sysctl.js"
import { parseUlimits } from "../../src/oci/Ulimits.js"
import { resolveUser } from "../../src/oci/User.js"
import { allocDir, baseNomad, baseTask } from "../support/ociInput.js"

/** A refusal with this reason and exactly this message. */
const refusedWith = (reason: string, message: string) => Either.left(expect.objectContaining({ reason, message }))

describe("ramInBytes (go-units RAMInBytes)", () => {
  it.each([
    ["0", 0], ["1", 1], ["1b", 1], ["1B", 1], ["1k", 1024], ["1 kb", 1024], ["1KiB", 1024], ["64m", 67108864],
    ["1.5g", 1610612736], ["2T", 2 * 1024 ** 4], [".5k", 512], ["1p", 1024 ** 5]
  ])("%s = %d bytes", (text, bytes) => {
    expect(ramInBytes(text)).toEqual(Either.right(bytes))
  })
  it.each(["", "k", "1x", "1kk", "1 k b", "-1k", "1.2.3m", " 1k", "1kbb"])("refuses %j", (text) => {
    expect(ramInBytes(text)).toEqual(Either.left(`invalid size: '${text}'`))
  })
  it("takes up to 2^53 − 1 bytes and says a larger size is too large", () => {
    expect(ramInBytes("9007199254740991")).toEqual(Either.right(9007199254740991))
    expect(ramInBytes("9007199254740992")).toEqual(Either.left("invalid size: '9007199254740992' is too large"))
    expect(ramInBytes("8p")).toEqual(Either.left("invalid size: '8p' is too large"))
  })
})

describe("resolveUser", () => {
  const files = {
    passwd: "# comment\nroot:x:0:0::/root:/bin/sh\n\nwww:x:33:33::/var/www:/bin/false\n",
    group: "root:x:0:\nwww:x:33:www\nlog:x:4:www,root\nweb:x:80: www \n"
  }
  it.each([
    [undefined, { uid: 0, gid: 0, additionalGids: [0, 4] }],
    ["", { uid: 0, gid: 0, additionalGids: [0, 4] }],
    ["www", { uid: 33, gid: 33, additionalGids: [33, 4, 80] }],
    ["33", { uid: 33, gid: 33, additionalGids: [33, 4, 80] }],
    ["www:4", { uid: 33, gid: 4, additionalGids: [4, 80] }],
    ["500:500", { uid: 500, gid: 500, additionalGids: [500] }]
  ])("%j → %j", (user, expected) => {
    expect(resolveUser(user, files, "task user")).toEqual(Either.right(expected))
  })
  it("works without account files for numeric users, as containerd does", () => {
    expect(resolveUser("1000", {}, "task user")).toEqual(Either.right({ uid: 1000, gid: 0, additionalGids: [0] }))
    expect(resolveUser("1000:1000", {}, "task user")).toEqual(Either.right({ uid: 1000, gid: 1000, additionalGids: [1000] }))
  })
  it("says the image has no /etc/passwd when a name cannot be resolved", () => {
    const result = resolveUser("www", {}, "task user")
    expect(Either.isLeft(result) && result.left.message).toContain("the image has no /etc/passwd")
  })
  it.each([":", "a:", ":b", "a:b:c"])("refuses %j", (user) => {
    const result = resolveUser(user, files, "task user")
    expect(result).toEqual(refusedWith(
      "InvalidUser",
      `invalid task user ${JSON.stringify(user)}: expected user, uid, user:group, uid:gid, user:gid or uid:group`
    ))
  })
})

describe("resolveUser with the image's /etc/passwd and /etc/group", () => {
  const resolved = (user: string, files: { passwd?: string; group?: string }) =>
    resolveUser(user, files, "task user")
  const refusal = (user: string, files: { passwd?: string; group?: string }) =>
    Either.match(resolved(user, files), {
      onLeft: (error): { reason: string; message: string } => ({ reason: error.reason, message: error.message }),
      onRight: (accepted) => ({ reason: "accepted", message: JSON.stringify(accepted) })
    })

  it("skips blank and comment lines and trims each line, but a # inside a line is data", () => {
    const passwd = "  # app:x:1:1::/:/bin/sh\n\n   app:x:7:8::/:/bin/sh   \nhash#:x:9:9::/:/bin/sh\n"
    expect(resolved("app", { passwd })).toEqual(Either.right({ uid: 7, gid: 8, additionalGids: [8] }))
    expect(resolved("hash#", { passwd })).toEqual(Either.right({ uid: 9, gid: 9, additionalGids: [9] }))
    // The commented-out line defines nothing: uid 1 is unknown, so its gid is 0.
    expect(resolved("1", { passwd })).toEqual(Either.right({ uid: 1, gid: 0, additionalGids: [0] }))
  })

  it("reads an id that is missing or not a number as 0", () => {
    const passwd = "a:x:abc:5\nb:x:6\nc:x:-3:-4\n"
    expect(resolved("a", { passwd })).toEqual(Either.right({ uid: 0, gid: 5, additionalGids: [5] }))
    expect(resolved("b", { passwd })).toEqual(Either.right({ uid: 6, gid: 0, additionalGids: [0] }))
    expect(resolved("c", { passwd })).toEqual(Either.right({ uid: 0, gid: 0, additionalGids: [0] }))
  })

  it("trims group members and ignores empty ones", () => {
    const passwd = "u:x:10:10\n"
    const group = "one:x:11: u ,x\ntwo:x:12:x,,u\nthree:x:13:,\nfour:x:14:xu,ux\n"
    expect(resolved("u", { passwd, group })).toEqual(Either.right({ uid: 10, gid: 10, additionalGids: [10, 11, 12] }))
  })

  it("takes a uid up to 2^32-1 as a number and a longer one as a name", () => {
    expect(resolved("4294967295", {})).toEqual(Either.right({ uid: 4294967295, gid: 0, additionalGids: [0] }))
    expect(refusal("4294967296", {})).toEqual({
      reason: "UnknownUser",
      message: 'task user "4294967296": no user "4294967296" in the image\'s /etc/passwd (the image has no /etc/passwd); use a numeric uid or a user the image defines'
    })
    expect(refusal("12a", { passwd: "root:x:0:0\n" }).message).toContain('no user "12a"')
    expect(refusal("a12", { passwd: "root:x:0:0\n" }).message).toContain('no user "a12"')
    expect(resolved("0:4294967295", {})).toEqual(Either.right({ uid: 0, gid: 4294967295, additionalGids: [4294967295] }))
  })

  it("looks up a user:group user by name and its groups by uid", () => {
    const passwd = "app:x:7:8\n"
    const group = "app:x:8:\nextra:x:20:app\nother:x:21:someone\n"
    expect(resolved("app:20", { passwd, group })).toEqual(Either.right({ uid: 7, gid: 20, additionalGids: [20] }))
    expect(resolved("7:8", { passwd, group })).toEqual(Either.right({ uid: 7, gid: 8, additionalGids: [8, 20] }))
    expect(resolved("app:extra", { passwd, group })).toEqual(Either.right({ uid: 7, gid: 20, additionalGids: [20] }))
    // A uid with no passwd entry has no name, so no group lists it.
    expect(resolved("9:8", { passwd, group })).toEqual(Either.right({ uid: 9, gid: 8, additionalGids: [8] }))
    // Without /etc/group only the primary gid is known.
    expect(resolved("app", { passwd })).toEqual(Either.right({ uid: 7, gid: 8, additionalGids: [8] }))
  })

  it("names the missing user or group, and says when the image has no such file", () => {
    const passwd = "app:x:7:8\n"
    const group = "app:x:8:\n"
    const noUser = 'task user "nobody:8": no user "nobody" in the image\'s /etc/passwd; use a numeric uid or a user the image defines'
    expect(refusal("nobody:8", { passwd, group })).toEqual({ reason: "UnknownUser", message: noUser })
    expect(refusal("nobody:8", { group })).toEqual({
      reason: "UnknownUser",
      message: 'task user "nobody:8": no user "nobody" in the image\'s /etc/passwd (the image has no /etc/passwd); use a numeric uid or a user the image defines'
    })
    expect(refusal("app:staff", { passwd, group })).toEqual({
      reason: "UnknownGroup",
      message: 'task user "app:staff": no group "staff" in the image\'s /etc/group; use a numeric gid or a group the image defines'
    })
    expect(refusal("7:staff", { passwd })).toEqual({
      reason: "UnknownGroup",
      message: 'task user "7:staff": no group "staff" in the image\'s /etc/group (the image has no /etc/group); use a numeric gid or a group the image defines'
    })
    expect(refusal("nobody", { passwd }).message).toBe(
      'task user "nobody": no user "nobody" in the image\'s /etc/passwd; use a numeric uid or a user the image defines'
    )
  })
})

describe("extra hosts and resolv.conf", () => {
  it.each([
    ["db:10.0.0.1", { name: "db", address: "10.0.0.1" }],
    ["v6:::1", { name: "v6", address: "::1" }],
    ["v6:[2001:db8::1]", { name: "v6", address: "2001:db8::1" }],
    ["db: 10.0.0.1 ", { name: "db", address: "10.0.0.1" }]
  ])("parses %j", (entry, host) => {
    expect(parseExtraHost(entry)).toEqual(Either.right(host))
  })
  it.each([
    ["127.0.0.1", true], ["127.1.2.3", true], ["::1", true], ["0:0:0:0:0:0:0:1", true], ["::ffff:127.0.0.53", true],
    ["10.0.0.1", false], ["::2", false], ["fe80::1", false], ["::ffff:10.0.0.1", false], ["not-an-ip", false]
  ])("isLoopbackAddress(%s) = %s", (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback)
  })
  it("parses and renders resolv.conf in resolvconf.Build order", () => {
    const conf = parseResolvConf("# x\nnameserver 1.1.1.1\n; y\noptions ndots:1\nsearch a b\nnameserver 9.9.9.9\noptions edns0\n")
    expect(conf).toEqual({ nameservers: ["1.1.1.1", "9.9.9.9"], searches: ["a", "b"], options: ["ndots:1", "edns0"] })
    expect(renderResolvConf(conf)).toBe(
      "# generated by containerd-driver\nsearch a b\nnameserver 1.1.1.1\nnameserver 9.9.9.9\noptions ndots:1 edns0\n"
    )
  })
})

describe("extra_hosts entries that are refused, with Docker's wording", () => {
  const refusal = (entry: string) => {
    const result = parseExtraHost(entry)
    return Either.isLeft(result) && result.left.reason === "InvalidExtraHost" ? result.left.message : result
  }
  it.each([
    ["nocolon", 'bad format for add-host: "nocolon" (extra_hosts entries are "name:IP")'],
    [":10.0.0.1", 'bad format for add-host: ":10.0.0.1" (extra_hosts entries are "name:IP")'],
    ["my host:10.0.0.1", 'bad format for add-host: "my host:10.0.0.1" (the name has whitespace)'],
    ["gw:host-gateway", 'extra_hosts entry "gw:host-gateway": host-gateway is not supported; give the IP address'],
    ["v6:[::1", 'invalid IP address in add-host: "[::1"'],
    ["v6:::1]", 'invalid IP address in add-host: "::1]"'],
    ["v6:1::1]", 'invalid IP address in add-host: "1::1]"'],
    ["v6:fe80::1%eth0", 'invalid IP address in add-host: "fe80::1%eth0"'],
    ["db:10.0.0.256", 'invalid IP address in add-host: "10.0.0.256"']
  ])("%j", (entry, message) => {
    expect(refusal(entry)).toBe(message)
  })
})

describe("/etc/hosts", () => {
  it("starts from the default records in the task's own network namespace", () => {
    expect(renderHosts({ base: undefined, extraHosts: [{ name: "db", address: "10.0.0.1" }] })).toBe(
      "# generated by containerd-driver\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.1\tdb\n"
    )
  })
  it("keeps the host's file as it is, without its trailing blank lines, and adds the allocation and extra hosts", () => {
    const self = { address: "10.1.2.3", hostnames: ["web", "web.local"] }
    expect(renderHosts({ base: "127.0.0.1 localhost\n\n# end\n\n\n", self, extraHosts: [{ name: "db", address: "::2" }] })).toBe(
      "127.0.0.1 localhost\n\n# end\n10.1.2.3\tweb web.local\n::2\tdb\n"
    )
  })
  it("adds no allocation line without an address or without a hostname", () => {
    const base = "127.0.0.1 localhost\n"
    expect(renderHosts({ base, self: { address: "", hostnames: ["web"] }, extraHosts: [] })).toBe(base)
    expect(renderHosts({ base, self: { address: "10.1.2.3", hostnames: [] }, extraHosts: [] })).toBe(base)
  })
})

describe("resolv.conf as resolv.conf(5) reads it", () => {
  it("splits on any run of blanks, trims lines, and skips comments, blank lines and unknown keywords", () => {
    const conf = parseResolvConf(
      "  nameserver\t\t10.0.0.2  \n#nameserver 10.9.9.9\n;nameserver 10.8.8.8\n\nsortlist 10.0.0.0/8\nnameserver\n" +
        "search  a   b\noptions\tndots:2  rotate\n"
    )
    expect(conf).toEqual({ nameservers: ["10.0.0.2"], searches: ["a", "b"], options: ["ndots:2", "rotate"] })
  })
  it("lets the last search or domain line win, and has empty lists when a keyword is absent", () => {
    expect(parseResolvConf("search a b\ndomain example.com\n").searches).toEqual(["example.com"])
    expect(parseResolvConf("domain example.com\nsearch c\n").searches).toEqual(["c"])
    expect(parseResolvConf("nameserver 10.0.0.2\n")).toEqual({ nameservers: ["10.0.0.2"], searches: [], options: [] })
  })
  it("writes no search or options line for an empty list", () => {
    expect(renderResolvConf({ nameservers: ["10.0.0.2"], searches: [], options: [] })).toBe(
      "# generated by containerd-driver\nnameserver 10.0.0.2\n"
    )
  })
  it("takes each of servers, searches and options the dns block leaves empty from the host, field by field", () => {
    const host = { nameservers: ["10.0.0.2"], searches: ["host.local"], options: ["ndots:2"] }
    const none = { servers: [], searches: [], options: [] }
    expect(resolvConfFromDnsBlock(none, host)).toEqual(host)
    expect(resolvConfFromDnsBlock(none, undefined)).toEqual({ nameservers: [], searches: [], options: [] })
    expect(resolvConfFromDnsBlock({ servers: ["1.1.1.1"], searches: [], options: [] }, host)).toEqual({ ...host, nameservers: ["1.1.1.1"] })
    expect(resolvConfFromDnsBlock({ servers: [], searches: ["job.local"], options: [] }, host)).toEqual({ ...host, searches: ["job.local"] })
    expect(resolvConfFromDnsBlock({ servers: [], searches: [], options: ["edns0"] }, host)).toEqual({ ...host, options: ["edns0"] })
  })
  it("drops only the host's loopback nameserver lines and ends with one newline", () => {
    const host = "# host\n  nameserver 127.0.0.53\nnameserver  ::1\nnameserver\t10.0.0.2\nnameserver\nsearch 127.0.0.1\noptions edns0\n\n\n"
    expect(withoutLoopbackNameservers(host)).toBe(
      "# generated by containerd-driver\n# host\nnameserver\t10.0.0.2\nnameserver\nsearch 127.0.0.1\noptions edns0\n"
    )
  })
})

describe("loopback addresses in every IPv6 spelling (RFC 4291 2.2 and 2.5.5.2)", () => {
  it.each([
    ["0:0::1", true], ["0::0:1", true], ["0000:0000:0000:0000:0000:0000:0000:0001", true], ["::1%lo", true],
    ["0:0:0:0:0:ffff:127.0.0.1", true], ["::ffff:7f00:1", true], ["::ffff:127.10.0.1", true], ["::ffff:127.0.10.1", true],
    ["::FFFF:127.0.0.1", true],
    ["::", false], ["1::1", false], ["::1:0", false], ["::ffff:128.0.0.1", false], ["::fffe:127.0.0.1", false],
    ["1::ffff:127.0.0.1", false], ["::127.0.0.1", false], ["0:0:0:0:0:0:0:1x", false], ["127.0.0.1.1", false]
  ])("isLoopbackAddress(%s) = %s", (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback)
  })
})

describe("custom seccomp profiles: each malformed part refused with its own message", () => {
  const context = { path: "/p.json", bounding: ["CAP_CHOWN"], arch: "amd64", kernelRelease: "5.15.0" }
  const base = { defaultAction: "SCMP_ACT_ERRNO" }
  const rule = { names: ["read"], action: "SCMP_ACT_ALLOW" }
  const withRule = (extra: object) => ({ ...base, syscalls: [{ ...rule, ...extra }] })
  const withArg = (arg: unknown) => withRule({ args: [arg] })
  const argProblem = 'syscalls[0].args[0] needs "index", "value" (whole numbers) and "op" (e.g. "SCMP_CMP_EQ")'
  it.each<[string, unknown, string]>([
    ["a null profile", null, "expected a JSON object"],
    ["an empty defaultAction", { defaultAction: "" }, '"defaultAction" must be a non-empty string such as "SCMP_ACT_ERRNO"'],
    ["a numeric defaultAction", { defaultAction: 1 }, '"defaultAction" must be a non-empty string such as "SCMP_ACT_ERRNO"'],
    ["architectures not all strings", { ...base, architectures: ["SCMP_ARCH_X86_64", 1] }, '"architectures" must be a list of strings'],
    ["archMap not a list", { ...base, archMap: {} }, '"archMap" must be a list'],
    ["an archMap entry that is not an object", { ...base, archMap: ["SCMP_ARCH_X86_64"] }, 'each "archMap" entry needs an "architecture" string'],
    ["an archMap entry without architecture", { ...base, archMap: [{ subArchitectures: [] }] }, 'each "archMap" entry needs an "architecture" string'],
    ["subArchitectures not strings", { ...base, archMap: [{ architecture: "SCMP_ARCH_ARM", subArchitectures: [1] }] }, '"subArchitectures" must be a list of strings'],
    ["flags not a list", { ...base, flags: "SECCOMP_FILTER_FLAG_LOG" }, '"flags" must be a list of strings'],
    ["listenerPath not a string", { ...base, listenerPath: 1 }, '"listenerPath" must be a string'],
    ["listenerMetadata not a string", { ...base, listenerMetadata: {} }, '"listenerMetadata" must be a string'],
    ["a negative defaultErrnoRet", { ...base, defaultErrnoRet: -1 }, '"defaultErrnoRet" must be a non-negative whole number'],
    ["a fractional defaultErrnoRet", { ...base, defaultErrnoRet: 1.5 }, '"defaultErrnoRet" must be a non-negative whole number'],
    ["a defaultErrnoRet given as text", { ...base, defaultErrnoRet: "1" }, '"defaultErrnoRet" must be a non-negative whole number'],
    ["syscalls not a list", { ...base, syscalls: {} }, '"syscalls" must be a list'],
    ["a rule that is not an object", { ...base, syscalls: ["read"] }, "syscalls[0] must be an object"],
    ["a rule name that is not a string", withRule({ names: undefined, name: 1 }), "syscalls[0].name must be a string"],
    ["rule names that are not strings", withRule({ names: ["read", 1] }), "syscalls[0].names must be a list of strings"],
    ["an empty rule action", withRule({ action: "" }), "syscalls[0].action must be a non-empty string"],
    ["a rule without action", withRule({ action: undefined }), "syscalls[0].action must be a non-empty string"],
    ["a rule errnoRet below zero", withRule({ errnoRet: -1 }), "syscalls[0].errnoRet must be a non-negative whole number"],
    ["args not a list", withRule({ args: {} }), "syscalls[0].args must be a list"],
    ["an arg that is not an object", withArg(0), argProblem],
    ["an arg without index", withArg({ value: 1, op: "SCMP_CMP_EQ" }), argProblem],
    ["an arg without value", withArg({ index: 0, op: "SCMP_CMP_EQ" }), argProblem],
    ["an arg without op", withArg({ index: 0, value: 1 }), argProblem],
    ["an arg whose valueTwo is negative", withArg({ index: 0, value: 1, valueTwo: -1, op: "SCMP_CMP_EQ" }), argProblem],
    ["an arg value of 2^64", withArg({ index: 0, value: 2n ** 64n, op: "SCMP_CMP_EQ" }), argProblem],
    ["an arg value below zero as a bigint", withArg({ index: 0, value: -1n, op: "SCMP_CMP_EQ" }), argProblem],
    ["an arg index of 6", withArg({ index: 6, value: 1, op: "SCMP_CMP_EQ" }), "syscalls[0].args[0].index is 6; a system call argument index is 0 to 5"],
    [
      "an unknown comparison",
      withArg({ index: 0, value: 1, op: "EQ" }),
      'syscalls[0].args[0].op "EQ" is not a seccomp comparison; use one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ'
    ],
    ["includes that is not an object", withRule({ includes: [] }), "syscalls[0].includes/excludes must be objects"],
    ["excludes that is not an object", withRule({ excludes: "x" }), "syscalls[0].includes/excludes must be objects"],
    ["includes.arches not strings", withRule({ includes: { arches: [1] } }), "syscalls[0].includes.arches must be a list of strings"],
    ["excludes.caps not a list", withRule({ excludes: { caps: "CAP_SYS_ADMIN" } }), "syscalls[0].excludes.caps must be a list of strings"],
    ["excludes.minKernel not a string", withRule({ excludes: { minKernel: 4.8 } }), 'syscalls[0].excludes.minKernel must be a kernel version such as "4.8"']
  ])("%s", (_, profile, problem) => {
    expect(customSeccompProfile(profile, context)).toEqual(refusedWith(
      "InvalidSeccompProfile",
      `seccomp_profile /p.json is not a valid seccomp profile: ${problem}`
    ))
  })

  it("accepts the largest values and leaves out what is empty or zero", () => {
    const profile = {
      ...base,
      defaultErrnoRet: 0,
      flags: [],
      listenerPath: "",
      listenerMetadata: "meta",
      syscalls: [
        { names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 5, value: 2n ** 64n - 1n, valueTwo: 0n, op: "SCMP_CMP_EQ" }] },
        { names: ["b"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, valueTwo: 3, op: "SCMP_CMP_MASKED_EQ" }] },
        { name: "", names: ["c"], action: "SCMP_ACT_ERRNO", errnoRet: 0 }
      ]
    }
    expect(customSeccompProfile(profile, context)).toEqual(Either.right({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 0,
      listenerMetadata: "meta",
      syscalls: [
        { names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 5, value: 2n ** 64n - 1n, op: "SCMP_CMP_EQ" }] },
        { names: ["b"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, valueTwo: 3, op: "SCMP_CMP_MASKED_EQ" }] },
        { names: ["c"], action: "SCMP_ACT_ERRNO", errnoRet: 0 }
      ]
    }))
    expect(customSeccompProfile({ ...base, listenerPath: "/run/l.sock" }, context)).toEqual(
      Either.right({ defaultAction: "SCMP_ACT_ERRNO", listenerPath: "/run/l.sock" })
    )
    expect(customSeccompProfile({ ...base, syscalls: [], listenerMetadata: "" }, context)).toEqual(
      Either.right({ defaultAction: "SCMP_ACT_ERRNO" })
    )
    expect(customSeccompProfile({ ...base, archMap: [{ architecture: "SCMP_ARCH_X86_64" }] }, context)).toEqual(
      Either.right({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"] })
    )
  })

  it("drops a rule its excludes match: the arch, a capability the task has, or a kernel at least that new", () => {
    const kept = (filter: object, ctx = context) => {
      const result = customSeccompProfile(withRule(filter), ctx)
      return Either.isRight(result) && result.right.syscalls !== undefined
    }
    expect(kept({ excludes: { arches: ["amd64"] } })).toBe(false)
    expect(kept({ excludes: { arches: ["arm64"] } })).toBe(true)
    expect(kept({ excludes: { caps: ["CAP_CHOWN"] } })).toBe(false)
    expect(kept({ excludes: { minKernel: "5.15" } })).toBe(false)
    expect(kept({ excludes: { minKernel: "5.16" } })).toBe(true)
    expect(kept({ excludes: { minKernel: "5.15" } }, { ...context, kernelRelease: "unknown" })).toBe(true)
    expect(kept({ includes: { minKernel: "10.0" } }, { ...context, kernelRelease: "10.2.1" })).toBe(true)
    expect(kept({ includes: { minKernel: "4.8" } }, { ...context, kernelRelease: " 4.8.0" })).toBe(true)
  })
})

describe("default seccomp profile", () => {
  it("allows ptrace only from kernel 4.8", () => {
    const ptrace = (release: string) =>
      defaultSeccompProfile([], "amd64", release).syscalls!.some((r) => r.names.length === 1 && r.names[0] === "ptrace")
    expect(ptrace("4.8.0")).toBe(true)
    expect(ptrace("5.10.0-28-amd64")).toBe(true)
    expect(ptrace("4.4.0")).toBe(false)
    expect(ptrace("garbage")).toBe(false)
  })
  it("uses the architecture's list and extras", () => {
    const arm = defaultSeccompProfile([], "arm64", "6.1")
    expect(arm.architectures).toEqual(["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"])
    expect(arm.syscalls!.some((r) => r.names.includes("cacheflush"))).toBe(true)
    expect(arm.syscalls!.some((r) => r.names.includes("arch_prctl"))).toBe(false)
  })
  it.each([["s390x", 1], ["s390", 1], ["amd64", 0], ["arm64", 0]])("checks clone's flags on %s in arg %d", (arch, index) => {
    const clone = defaultSeccompProfile([], arch, "6.1").syscalls!.find((r) => r.names[0] === "clone")
    // CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP; a zero valueTwo is left out, as Go's omitempty does.
    expect(clone?.args).toStrictEqual([{ index, value: 0x7e020000, op: "SCMP_CMP_MASKED_EQ" }])
  })
  it("on an architecture it has no table for, has no architectures key and no extras rule", () => {
    const profile = defaultSeccompProfile([], "loong64", "6.1")
    expect(Object.keys(profile)).toEqual(["defaultAction", "syscalls"])
    expect(profile.syscalls!.every((r) => Array.isArray(r.names) && r.names.length > 0)).toBe(true)
  })
  it("parses kernel versions", () => {
    expect(parseKernelVersion("6.18.44-fc-v595")).toEqual([6, 18])
    expect(parseKernelVersion("10.2")).toEqual([10, 2])
    expect(parseKernelVersion(" 4.19.0\n")).toEqual([4, 19])
    expect(parseKernelVersion("x")).toBeUndefined()
    expect(parseKernelVersion("v6.1")).toBeUndefined()
  })
})

describe("custom seccomp profiles (Docker format)", () => {
  const context = { path: "/p.json", bounding: ["CAP_SYS_ADMIN"], arch: "amd64", kernelRelease: "5.15.0" }
  it("takes the native archMap entry and filters rules by includes/excludes", () => {
    const profile = {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      archMap: [
        { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
        { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] }
      ],
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW", comment: "basics" },
        { name: "mount", action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
        { names: ["reboot"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_BOOT"] } },
        { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
        { names: ["cacheflush"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm64"] } },
        { names: ["clone"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_ADMIN"] } },
        { names: ["new_call"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "6.2" } },
        {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 18446744073709551615n, valueTwo: 0, op: "SCMP_CMP_EQ" }]
        }
      ]
    }
    expect(customSeccompProfile(profile, context)).toEqual(
      Either.right({
        defaultAction: "SCMP_ACT_ERRNO",
        defaultErrnoRet: 1,
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls: [
          { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
          { names: ["mount"], action: "SCMP_ACT_ALLOW" },
          { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW" },
          { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 18446744073709551615n, op: "SCMP_CMP_EQ" }] }
        ]
      })
    )
  })
  it("accepts a runtime-spec profile unchanged", () => {
    const profile = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64"],
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [{ names: ["kexec_load"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }]
    }
    expect(customSeccompProfile(profile, context)).toEqual(Either.right(profile))
  })
  it.each([
    [[], "expected a JSON object"],
    [{}, "defaultAction"],
    [{ defaultAction: "SCMP_ACT_ERRNO", architectures: ["X"], archMap: [{ architecture: "X" }] }, "both \"architectures\" and \"archMap\""],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ name: "a", names: ["b"], action: "SCMP_ACT_ALLOW" }] }, "both \"name\" and \"names\""],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] }, "names no syscall"],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["a"] }] }, "action"],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, op: "EQ" }] }] }, "args[0]"],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "new" } }] }, "minKernel"]
  ])("refuses %j", (profile, message) => {
    const result = customSeccompProfile(profile, context)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.reason).toBe("InvalidSeccompProfile")
      expect(result.left.message).toContain("/p.json")
      expect(result.left.message).toContain(message)
    }
  })
})

describe("SpecJson", () => {
  it("writes and reads integers beyond 2^53 exactly", () => {
    const value = { hard: 18446744073709551615n, soft: 1024, list: [9007199254740993n, -1, 1.5e3], s: "é\"\n" }
    const text = encodeJson(value)
    expect(text).toBe('{"hard":18446744073709551615,"soft":1024,"list":[9007199254740993,-1,1500],"s":"é\\"\\n"}')
    expect(decodeJson(text)).toEqual(Either.right(value))
  })
  it("leaves undefined properties out, like JSON.stringify", () => {
    expect(encodeJson({ a: undefined, b: [undefined], c: null })).toBe('{"b":[null],"c":null}')
  })
  const onlySafeIntegers = (v: unknown): boolean =>
    typeof v === "number"
      ? !Number.isInteger(v) || Number.isSafeInteger(v)
      : Array.isArray(v)
      ? v.every(onlySafeIntegers)
      : typeof v === "object" && v !== null
      ? Object.values(v).every(onlySafeIntegers)
      : true
  it.prop("reads whatever JSON.stringify writes (integers within 2^53)", [fc.jsonValue().filter(onlySafeIntegers)], ([value]) => {
    const text = JSON.stringify(value)
    expect(decodeJson(text)).toEqual(Either.right(JSON.parse(text)))
  })
  it.each(["", "{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"\u0001\""])("refuses %j", (text) => {
    expect(Either.isLeft(decodeJson(text))).toBe(true)
  })
  it.each([
    ["", "unexpected character at offset 0"],
    ["tru", "unexpected character at offset 0"],
    ["[1,]", "unexpected character at offset 3"],
    ["{1:2}", "expected a property name at offset 1"],
    ["{\"a\":1]", "expected ',' or '}' at offset 6"],
    ["[1}", "expected ',' or ']' at offset 2"],
    ["\"\u0001\"", "bad string at offset 0"],
    ["{\"a\\x\":1}", "bad string at offset 1"],
    ["1 2", "unexpected text after the value at offset 2"]
  ])("refuses %j saying what was expected and where", (text, message) => {
    expect(decodeJson(text)).toEqual(Either.left(message))
  })
  it("refuses a property name without ':' after it, at the offset of what stands there", () => {
    expect(decodeJson("{\"a\" 1}")).toEqual(Either.left("expected ':' at offset 5"))
  })
  it("skips JSON's four whitespace characters around tokens, and no others", () => {
    expect(decodeJson(" \t\n\r{ \"a\" :\n[ 1 ,\t2 ] ,\r\n\"b\": true } \n")).toEqual(Either.right({ a: [1, 2], b: true }))
    expect(decodeJson("\f1")).toEqual(Either.left("unexpected character at offset 0"))
    expect(decodeJson("1\u00a0")).toEqual(Either.left("unexpected text after the value at offset 1"))
  })
  it("reads a number with a fraction or an exponent as a number, even one beyond 2^53", () => {
    expect(decodeJson("[0.5,-2.5E-3,1e3,1e21,12345678901234567890.5]"))
      .toEqual(Either.right([0.5, -0.0025, 1000, 1e21, 12345678901234567000]))
  })
  it("gives decoded objects ordinary properties, which can be reassigned and deleted", () => {
    const decoded = Either.getOrThrow(decodeJson("{\"a\":1,\"b\":2}")) as Record<string, unknown>
    decoded.a = 3
    delete decoded.b
    expect(decoded).toEqual({ a: 3 })
  })
  it("writes null for a top-level value JSON has no text for", () => {
    expect(encodeJson(undefined)).toBe("null")
    expect(encodeJson(() => 1)).toBe("null")
    expect(encodeJson(Symbol("s"))).toBe("null")
  })
})

describe("allHostDevices", () => {
  it("lists in directory-walk order and skips what WithHostDevices skips", () => {
    const node = { type: "c" as const, major: 1, minor: 1, fileMode: 0o600, uid: 0, gid: 0 }
    const devices = allHostDevices({
      "/dev/tty10": node,
      "/dev/tty1": node,
      "/dev/cpu_dma_latency": node,
      "/dev/cpu/0/cpuid": node,
      "/dev/pts/ptmx": node,
      "/dev/shm/x": node,
      "/dev/mqueue/q": node,
      "/dev/fd/3": node,
      "/dev/.udev/x": node,
      "/dev/console": node,
      "/dev/tty/console": node,
      "/dev/fifo": { ...node, type: "p" },
      "/opt/dev/loop0": node
    })
    expect(devices.map((d) => d.path)).toEqual(["/dev/cpu/0/cpuid", "/dev/cpu_dma_latency", "/dev/tty1", "/dev/tty10"])
  })
  it("skips those directories at any depth but lists a device file of the same name, and no path ending in /", () => {
    const node = { type: "c" as const, major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }
    const devices = allHostDevices({
      "/dev/fd": node,
      "/dev/snd/pts/1": node,
      "/dev/bus/usb/.udev/x": node,
      "/dev/dri/": node,
      "/dev/": node,
      "/dev/null": node
    })
    expect(devices.map((d) => d.path)).toEqual(["/dev/fd", "/dev/null"])
  })
})

describe("hostFactsNeeded", () => {
  it("names exactly the facts the task's options need", () => {
    const task = baseTask({
      privileged: true,
      devices: ["/dev/fuse"],
      seccomp: true,
      seccomp_profile: "/etc/profile.json",
      mounts: [
        { type: "bind", target: "/a", source: "local/conf", options: ["rbind"] },
        { type: "bind", target: "/b", source: "/srv/abs", options: ["rbind"] },
        { type: "bind", target: "/c", source: "local/../../escape", options: ["rbind"] },
        { type: "tmpfs", target: "/d", options: [] }
      ]
    })
    const nomad = baseNomad({ devices: [{ host_path: "/dev/nvidia0", task_path: "", cgroup_permissions: "" }] })
    expect(hostFactsNeeded(task, nomad)).toEqual({
      devicePaths: ["/dev/fuse", "/dev/nvidia0"],
      allDevices: true,
      realpaths: [`${allocDir}/web/local/conf`, `${allocDir}/web/local`],
      hostHosts: false,
      hostResolvConf: true,
      seccompProfile: "/etc/profile.json"
    })
  })
  it("asks for /etc/hosts only for host_network with extra_hosts, and no resolv.conf for host_network", () => {
    const needs = hostFactsNeeded(baseTask({ host_network: true, extra_hosts: ["a:10.0.0.1"] }), baseNomad())
    expect(needs).toMatchObject({ hostHosts: true, hostResolvConf: false, allDevices: false, devicePaths: [] })
  })
})

describe("sysctl keys that are not kernel parameter names", () => {
  it.each([
    ["", "sysctl \"\" is not a kernel parameter name"],
    ["   ", "sysctl \"   \" is not a kernel parameter name"],
    ["net.ipv4.ip_forward=1", "sysctl \"net.ipv4.ip_forward=1\" is not a kernel parameter name"],
    ["net.core.somaxconn ", "sysctl \"net.core.somaxconn \" is not a kernel parameter name"],
    ["net.ipv4.conf.all rp_filter", "sysctl \"net.ipv4.conf.all rp_filter\" is not a kernel parameter name"],
    ["kernel.sem\t", "sysctl \"kernel.sem\\t\" is not a kernel parameter name"]
  ])("refuses %j: empty, or with a blank or '='", (key, message) => {
    expect(checkSysctl(key, false)).toEqual(refusedWith("InvalidSysctl", message))
  })
  const partsRule = "its parts are separated by single dots (or slashes), with no empty, \".\" or \"..\" part"
  it.each([
    ["net..core", `sysctl "net..core" is not a kernel parameter name: ${partsRule}`],
    [".net.core", `sysctl ".net.core" is not a kernel parameter name: ${partsRule}`],
    ["net.core.", `sysctl "net.core." is not a kernel parameter name: ${partsRule}`],
    ["net/../core", `sysctl "net/../core" is not a kernel parameter name: ${partsRule}`]
  ])("refuses %j: a part is empty, . or ..", (key, message) => {
    expect(checkSysctl(key, false)).toEqual(refusedWith("InvalidSysctl", message))
  })
})

describe("ulimit values", () => {
  it("ignores blanks around each value and reads unlimited in any case", () => {
    expect(parseUlimits({ nofile: " 1024 : 2048 ", memlock: " Unlimited " })).toEqual(Either.right([
      { type: "RLIMIT_MEMLOCK", hard: 18446744073709551615n, soft: 18446744073709551615n },
      { type: "RLIMIT_NOFILE", hard: 2048, soft: 1024 }
    ]))
  })
  it.each(["12x", "x12", "0x10", "1e3", "+5", "1.5", "-2", "1 000"])("refuses %j: a limit is written in decimal digits only", (value) => {
    expect(parseUlimits({ nofile: value })).toEqual(Either.left(expect.objectContaining({
      reason: "InvalidUlimit",
      message: `invalid ulimit nofile = "${value}": expected "soft:hard" or one value for both, ` +
        "each a whole number or \"unlimited\", e.g. \"65536:65536\""
    })))
  })
  it("lists the limits by name, reading a name in any case, with blanks around it or the RLIMIT_ prefix", () => {
    expect(parseUlimits({ nproc: "2", " Core ": "1", RLIMIT_STACK: "3" })).toEqual(Either.right([
      { type: "RLIMIT_CORE", hard: 1, soft: 1 },
      { type: "RLIMIT_STACK", hard: 3, soft: 3 },
      { type: "RLIMIT_NPROC", hard: 2, soft: 2 }
    ]))
  })
  it.each(["fly", "norlimit_file"])("refuses the name %j, listing go-units' names", (name) => {
    expect(parseUlimits({ [name]: "1" })).toEqual(Either.left(expect.objectContaining({
      reason: "InvalidUlimit",
      message: `unknown ulimit "${name}"; valid names are as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, ` +
        "nofile, nproc, rss, rtprio, rttime, sigpending, stack"
    })))
  })
  it.each(["abc:5", "5:abc", ":5", "5:"])("refuses %j: the soft and the hard limit must both be valid", (value) => {
    expect(parseUlimits({ nofile: value })).toEqual(Either.left(expect.objectContaining({
      reason: "InvalidUlimit",
      message: `invalid ulimit nofile = "${value}": expected "soft:hard" or one value for both, ` +
        "each a whole number or \"unlimited\", e.g. \"65536:65536\""
    })))
  })
  it.each(["18446744073709551616:1", "1:18446744073709551616"])("refuses %j: either limit beyond 2^64 − 1 is too large", (value) => {
    expect(parseUlimits({ nofile: value })).toEqual(Either.left(expect.objectContaining({
      reason: "InvalidUlimit",
      message: `invalid ulimit nofile = "${value}": a limit is at most 18446744073709551615 (2^64 − 1); ` +
        "write \"unlimited\" for no limit"
    })))
  })
  it("keeps a limit up to 2^53 − 1 a number and makes a larger one an exact bigint", () => {
    expect(parseUlimits({ nproc: "9007199254740991:9007199254740992" })).toEqual(Either.right([
      { type: "RLIMIT_NPROC", hard: 9007199254740992n, soft: 9007199254740991 }
    ]))
  })
})

describe("devices and device-plugin devices", () => {
  const node = (major: number, minor: number) => ({ type: "c" as const, major, minor, fileMode: 0o666, uid: 0, gid: 0 })
  const hostDevices = { "/dev/fuse": node(10, 229), "/dev/nvidia0": node(195, 0) }
  const pluginDevice = (host_path: string, task_path: string, cgroup_permissions: string) => ({
    host_path,
    task_path,
    cgroup_permissions
  })

  it("exposes a device-plugin device at its task path with its cgroup permissions", () => {
    expect(nomadDevices([pluginDevice("/dev/nvidia0", "/dev/gpu0", "mr")], hostDevices)).toEqual(Either.right([{
      device: { path: "/dev/gpu0", type: "c", major: 195, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
      rule: { allow: true, type: "c", major: 195, minor: 0, access: "mr" }
    }]))
  })
  it("refuses a relative device path, naming the option", () => {
    expect(taskDevices(["dev/fuse"], hostDevices)).toEqual(refusedWith(
      "InvalidDevice",
      "devices: device paths must be absolute, got \"dev/fuse\""
    ))
    expect(nomadDevices([pluginDevice("nvidia0", "/dev/nvidia0", "")], hostDevices)).toEqual(refusedWith(
      "InvalidDevice",
      "device-plugin device: device paths must be absolute, got \"nvidia0\""
    ))
  })
  it("refuses a relative task path of a device-plugin device, naming that path", () => {
    expect(nomadDevices([pluginDevice("/dev/nvidia0", "gpu0", "")], hostDevices)).toEqual(refusedWith(
      "InvalidDevice",
      "device-plugin device: device paths must be absolute, got \"gpu0\""
    ))
  })
  it.each(["rwx", "xrw", "a", "R", "rr", "mwm", "rwmr"])("refuses cgroup permissions %j: each of r, w, m at most once", (access) => {
    expect(nomadDevices([pluginDevice("/dev/nvidia0", "", access)], hostDevices)).toEqual(refusedWith(
      "InvalidDevice",
      `device-plugin device: device permissions "${access}" must be a combination of r, w and m`
    ))
  })
  it("says which option names a device the node does not have", () => {
    expect(taskDevices(["/dev/kvm"], hostDevices)).toEqual(refusedWith(
      "DeviceNotFound",
      "devices: /dev/kvm does not exist on this node or is not a device node"
    ))
    expect(nomadDevices([pluginDevice("/dev/nvidia1", "", "")], hostDevices)).toEqual(refusedWith(
      "DeviceNotFound",
      "device-plugin device: /dev/nvidia1 does not exist on this node or is not a device node"
    ))
  })
  it("mergeDevices keeps the devices it is given, replaces one at the same path in place (the first too) and appends the rest", () => {
    const device = (path: string, minor: number) => ({ path, type: "c" as const, major: 1, minor })
    expect(mergeDevices(
      [device("/dev/null", 3), device("/dev/zero", 5), device("/dev/full", 7)],
      [device("/dev/null", 30), device("/dev/full", 70), device("/dev/fuse", 229)]
    )).toEqual([device("/dev/null", 30), device("/dev/zero", 5), device("/dev/full", 70), device("/dev/fuse", 229)])
  })
})

describe("mount parts", () => {
  const nomad = baseNomad()
  const local = `${allocDir}/web/local`
  const mounts = (list: TaskMounts) => taskMounts({ mounts: list }, nomad, [], undefined)
  type TaskMounts = Parameters<typeof taskMounts>[0]["mounts"]
  const escapeRule = "relative sources must stay inside local/, secrets/ or alloc/"

  it("puts the task directories at /alloc, /local and /secrets when NOMAD_*_DIR is empty", () => {
    expect(taskDirectoryTargets({ NOMAD_ALLOC_DIR: "", NOMAD_TASK_DIR: "", NOMAD_SECRETS_DIR: "" }))
      .toEqual({ alloc: "/alloc", local: "/local", secrets: "/secrets" })
  })
  it("mounts secrets, local and alloc read-write with rbind", () => {
    expect(taskDirectoryMounts(nomad)).toEqual([
      { destination: "/secrets", type: "bind", source: `${allocDir}/web/secrets`, options: ["rbind", "rw"] },
      { destination: "/local", type: "bind", source: `${allocDir}/web/local`, options: ["rbind", "rw"] },
      { destination: "/alloc", type: "bind", source: `${allocDir}/alloc`, options: ["rbind", "rw"] }
    ])
  })
  it("drops any number of leading ./ from a relative source", () => {
    expect(resolveMountSource("././local/conf", nomad)).toEqual(Either.right({ source: `${local}/conf`, within: local }))
  })
  it("says a relative source must start with a task directory, and must not leave it", () => {
    expect(resolveMountSource("conf/app", nomad)).toEqual(Either.left(expect.objectContaining({
      reason: "InvalidMountSource",
      message: "mount source \"conf/app\" is relative but does not start with local/, secrets/ or alloc/; " +
        "use an absolute host path or a path inside the task's local/, secrets/ or alloc/ directory"
    })))
    expect(resolveMountSource("local/../secrets/key", nomad)).toEqual(refusedWith(
      "MountSourceEscapes",
      `mount source "local/../secrets/key" leaves the task's local/ directory; ${escapeRule}`
    ))
  })
  it("checks realpaths only for relative sources it has a realpath for", () => {
    const bind = (source: string) => ({ mounts: [{ type: "bind", target: "/data", source, options: ["ro"] }] })
    const expected = (source: string) => Either.right([{ destination: "/data", type: "bind", source, options: ["rbind", "ro"] }])
    // No realpaths at all, none for this source, or an absolute source that is itself a symlink: used as resolved.
    expect(taskMounts(bind("local/conf"), nomad, [], undefined)).toEqual(expected(`${local}/conf`))
    expect(taskMounts(bind("local/conf"), nomad, [], { [local]: local })).toEqual(expected(`${local}/conf`))
    expect(taskMounts(bind("/srv/data"), nomad, [], { "/srv/data": "/mnt/disk/data" })).toEqual(expected("/srv/data"))
    expect(taskMounts(bind("local/conf"), nomad, [], { [`${local}/conf`]: "/etc/shadow" })).toEqual(
      refusedWith(
        "MountSourceEscapes",
        `mount source "local/conf" is a symbolic link to /etc/shadow, outside the task directory; ${escapeRule}`
      )
    )
  })
  it("treats an empty type as volume: a bind mount with rbind added", () => {
    expect(isBindMount({ type: "", options: [] })).toBe(true)
    expect(mounts([{ type: "", target: "/conf", source: "local/conf", options: ["ro"] }])).toEqual(Either.right([
      { destination: "/conf", type: "bind", source: `${local}/conf`, options: ["rbind", "ro"] }
    ]))
  })
  it("gives a tmpfs mount the source tmpfs unless one is written", () => {
    expect(mounts([
      { type: "tmpfs", target: "/t1", options: [] },
      { type: "tmpfs", target: "/t2", source: "", options: ["size=64m"] },
      { type: "tmpfs", target: "/t3", source: "scratch", options: [] }
    ])).toEqual(Either.right([
      { destination: "/t1", type: "tmpfs", source: "tmpfs" },
      { destination: "/t2", type: "tmpfs", source: "tmpfs", options: ["size=64m"] },
      { destination: "/t3", type: "tmpfs", source: "scratch" }
    ]))
  })
  it.each([
    [{ type: "bind", target: "/a/", options: ["rbind"] }, "mount with target /a: a bind mount needs a source (a host path)"],
    [{ type: "volume", target: "/v", source: "", options: ["ro"] }, "mount with target /v: a volume mount needs a source (a host path)"],
    [{ type: "bind", target: "data", source: "/srv", options: ["rbind"] }, "mount target \"data\" must be an absolute path inside the container"],
    [{ type: "tmpfs", target: "//", options: [] }, "mount target / would hide the container's root filesystem; choose another target"],
    [{ type: "tmpfs", target: "/local/", options: [] }, "mount target /local is where Nomad mounts the task directory /local; choose another target"]
  ])("refuses %j", (mount, message) => {
    expect(taskMounts({ mounts: [mount] }, nomad, ["/local"], undefined)).toEqual(refusedWith("InvalidMount", message))
  })
  it("mounts a volume at a relative task path under /, and names the allowed propagation modes", () => {
    const volume = (task_path: string, propagation_mode: string) => ({ task_path, host_path: "/srv/vol", readonly: false, propagation_mode })
    expect(nomadVolumeMounts([volume("data/", "")])).toEqual(Either.right([
      { destination: "/data", type: "bind", source: "/srv/vol", options: ["rbind"] }
    ]))
    expect(nomadVolumeMounts([volume("/data", "slave")])).toEqual(refusedWith(
      "InvalidPropagation",
      "volume mount at /data has propagation_mode \"slave\"; expected \"private\", \"host-to-task\" or \"bidirectional\""
    ))
  })
  const at = (destination: string, source = "/srv"): Mount => ({ destination, type: "bind", source, options: ["rbind"] })
  it("mergeMounts replaces the mount at the same cleaned destination in place, the first one too", () => {
    expect(mergeMounts([at("/proc"), at("/dev")], [at("/proc/", "/host/proc")])).toEqual([at("/proc/", "/host/proc"), at("/dev")])
  })
  it("parentsFirst orders by path depth, / first, keeping the given order at equal depth and the kept mounts in place", () => {
    const ordered = parentsFirst(
      [at("/dev"), at("/srv/a/b"), at("/data"), at("/alpha-long-name"), at("/srv/a"), at("/"), at("/b")],
      1
    )
    expect(ordered.map((m) => m.destination)).toEqual(["/dev", "/", "/data", "/alpha-long-name", "/b", "/srv/a", "/srv/a/b"])
  })
})

describe("capability errors", () => {
  it("says how a capability name is written", () => {
    expect(normaliseCapability("net_admn", "cap_drop")).toEqual(Either.left(expect.objectContaining({
      reason: "UnknownCapability",
      message: "unknown capability \"net_admn\" in cap_drop: use a Linux capability name as listed in capabilities(7), " +
        "e.g. \"CAP_NET_ADMIN\" or \"net_admin\" (the CAP_ prefix and case are optional), or \"ALL\""
    })))
  })
  const request = (add: ReadonlyArray<string>) => ({ base: ["CAP_CHOWN"], host: ["CAP_CHOWN", "CAP_KILL"], add, drop: [] })
  it("names the one cap_add capability the driver lacks, in the singular", () => {
    expect(resolveCapabilities(request(["kill", "sys_admin"]))).toEqual(Either.left(expect.objectContaining({
      reason: "CapabilityNotAvailable",
      message: "cap_add asks for CAP_SYS_ADMIN, which the driver process does not have, so no container on this node " +
        "can get it; remove it from cap_add or run the Nomad client with that capability"
    })))
  })
  it("names every cap_add capability the driver lacks, in the plural", () => {
    expect(resolveCapabilities(request(["net_admin", "CAP_SYS_TIME"]))).toEqual(Either.left(expect.objectContaining({
      reason: "CapabilityNotAvailable",
      message: "cap_add asks for CAP_NET_ADMIN, CAP_SYS_TIME, which the driver process does not have, so no container on " +
        "this node can get them; remove them from cap_add or run the Nomad client with those capabilities"
    })))
  })
})
