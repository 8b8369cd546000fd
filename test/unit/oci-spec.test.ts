/**
 * Table tests for src/oci/Spec.ts: one describe per option, pinning its effect on the runtime spec and its
 * errors (with the original driver's wording where it had one).
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { Mount, RuntimeSpec } from "../../src/oci/RuntimeSpec.js"
import { buildSpec, specOptions } from "../../src/oci/Spec.js"
import { dottedSysctl } from "../../src/oci/Sysctl.js"
import {
  allocDir,
  build,
  containerId,
  failure,
  generatedDir,
  hostDevices,
  spec,
  specInput
} from "../support/ociInput.js"

// The expected defaults are containerd's, read from what `ctr containers create` wrote (test/fixtures/ctr-specs,
// scripts/gen-ctr-specs.sh), not from the driver's own tables in src/oci/DefaultSpec.ts and Capabilities.ts.
const ctrSpec = (name: string): RuntimeSpec =>
  JSON.parse(readFileSync(new URL(`../fixtures/ctr-specs/${name}.json`, import.meta.url), "utf8")) as RuntimeSpec
const ctrDefault = ctrSpec("default")
const defaultCapabilities = ctrDefault.process.capabilities!.bounding!
const defaultMaskedPaths = ctrDefault.linux.maskedPaths!
const defaultReadonlyPaths = ctrDefault.linux.readonlyPaths!
const defaultMounts = ctrDefault.mounts
const [denyAll, ...defaultUnixDeviceRules] = ctrDefault.linux.resources!.devices!
// Every capability in kernel bit order (test/fixtures/linux-capabilities.json, from include/uapi/linux/capability.h);
// test/support/ociInput.ts gives the driver all of them as the host's unless a test says otherwise.
const kernelCapabilities = (JSON.parse(
  readFileSync(new URL("../fixtures/linux-capabilities.json", import.meta.url), "utf8")
) as { capabilities: ReadonlyArray<string> }).capabilities
// What `ctr --privileged` granted on the host the fixtures were made on, which lacked CAP_SYS_RESOURCE.
const ctrPrivilegedCapabilities = ctrSpec("privileged").process.capabilities!.bounding!

describe("the expected values read from ctr's specs", () => {
  it("are there, so the tests below compare with something", () => {
    expect(defaultCapabilities).toHaveLength(14)
    expect(defaultMaskedPaths).toContain("/proc/kcore")
    expect(defaultReadonlyPaths).toContain("/proc/sys")
    expect(defaultMounts.map((m) => m.destination)).toEqual(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/run"])
    expect(denyAll).toEqual({ allow: false, access: "rwm" })
    expect(ctrPrivilegedCapabilities).toEqual(kernelCapabilities.filter((c) => c !== "CAP_SYS_RESOURCE"))
  })
})

// RLIM_INFINITY: (rlim_t)-1, all 64 bits set.
const rlimInfinity = 2n ** 64n - 1n

const taskDir = `${allocDir}/web`
const mountAt = (s: RuntimeSpec, destination: string): Mount | undefined =>
  s.mounts.find((m) => m.destination === destination)
const caps = (s: RuntimeSpec) => s.process.capabilities?.bounding ?? []

describe("option order", () => {
  it("is the documented list", () => {
    expect(specOptions.map((o) => o.name)).toEqual([
      "defaultUnixDevices", "networkExclusivity", "imageConfig", "privileged", "pidsLimit", "pidMode", "shmSize",
      "sysctl", "readonlyRootfs", "networkNamespace", "capabilities", "cwd", "env", "memory", "cpu", "ulimits",
      "hostname", "devices", "mounts", "user", "cgroupsPath", "seccomp"
    ])
  })
})

describe("default spec", () => {
  it("is containerd's default for a plain task", () => {
    const s = spec()
    expect(s.ociVersion).toBe("1.0.2-dev")
    expect(s.root).toEqual({ path: "rootfs" })
    expect(s.process.capabilities).toEqual({
      bounding: defaultCapabilities,
      effective: defaultCapabilities,
      permitted: defaultCapabilities
    })
    expect(s.process.noNewPrivileges).toBe(true)
    expect(s.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }])
    expect(s.linux.namespaces).toEqual([{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }])
    expect(s.linux.maskedPaths).toEqual(defaultMaskedPaths)
    expect(s.linux.readonlyPaths).toEqual(defaultReadonlyPaths)
    expect(s.linux.cgroupsPath).toBe(`/nomad/${containerId}`)
    expect(s.mounts.slice(0, defaultMounts.length)).toEqual(defaultMounts)
    expect(s.linux.seccomp).toBeUndefined()
  })
})

describe("defaultUnixDevices", () => {
  it("follows the deny-all rule with ctr's default device rules", () => {
    expect(spec().linux.resources?.devices).toEqual([{ allow: false, access: "rwm" }, ...defaultUnixDeviceRules])
  })
})

describe("command / args / entrypoint", () => {
  const app = { entrypoint: ["/usr/bin/app", "--serve"], cmd: ["--port", "8080"] }
  it.each([
    ["image CMD when nothing is set", {}, {}, ["sh"]],
    ["image ENTRYPOINT + CMD", {}, app, ["/usr/bin/app", "--serve", "--port", "8080"]],
    ["args replace the image CMD, keeping ENTRYPOINT", { args: ["--port", "9090"] }, app, ["/usr/bin/app", "--serve", "--port", "9090"]],
    ["command + args replace CMD, keeping ENTRYPOINT", { command: "sleep", args: ["600s"] }, app, ["/usr/bin/app", "--serve", "sleep", "600s"]],
    ["command alone on an image without ENTRYPOINT", { command: "/bin/echo" }, {}, ["/bin/echo"]],
    ["entrypoint replaces ENTRYPOINT and drops CMD", { entrypoint: ["/bin/sh", "-c"], args: ["echo hi"] }, app, ["/bin/sh", "-c", "echo hi"]],
    ["entrypoint [\"\"] runs args directly", { entrypoint: [""], args: ["/bin/true", "x"] }, app, ["/bin/true", "x"]],
    ["entrypoint [] is treated as unset", { entrypoint: [], args: ["x"] }, app, ["/usr/bin/app", "--serve", "x"]],
    ["command \"\" is treated as unset", { command: "", args: ["x"] }, app, ["/usr/bin/app", "--serve", "x"]]
  ] as const)("%s", (_, task, image, args) => {
    expect(spec({ task, image }).process.args).toEqual(args)
  })

  it("refuses command together with entrypoint, in the original's words", () => {
    const error = failure({ task: { command: "a", entrypoint: ["b"] } })
    expect(error.reason).toBe("CommandAndEntrypoint")
    expect(error.message).toBe("Both command and entrypoint are set. Only one of them needs to be set.")
  })

  it("refuses an entrypoint starting with \"\" that has more elements", () => {
    const error = failure({ task: { entrypoint: ["", "x"] } })
    expect(error.reason).toBe("InvalidEntrypoint")
    expect(error.message).toBe(
      "entrypoint [\"\",\"x\"] starts with \"\" (which means \"no entrypoint\") but has more elements; " +
        "use entrypoint = [\"\"] with args, or drop the empty first element"
    )
  })

  it("runs the image ENTRYPOINT alone when the image has no CMD", () => {
    // ociInput's image always has a CMD; an image built with ENTRYPOINT only has none at all.
    const input = specInput({ image: { entrypoint: ["/usr/bin/app", "--serve"] } })
    const { cmd: _cmd, ...config } = input.image.config
    const result = buildSpec({ ...input, image: { ...input.image, config } })
    expect(Either.map(result, (r) => r.spec.process.args)).toEqual(Either.right(["/usr/bin/app", "--serve"]))
  })

  it("refuses a task with nothing to run", () => {
    const error = failure({ image: { cmd: [] } })
    expect(error.reason).toBe("NoCommand")
    expect(error.message).toContain("nothing to run")
    expect(failure({ task: { entrypoint: [""] } }).reason).toBe("NoCommand")
  })
})

describe("privileged", () => {
  const hostCaps = [...ctrPrivilegedCapabilities].reverse()

  it("is refused when the driver does not allow it, in the original's words", () => {
    const error = failure({ task: { privileged: true }, driver: { allow_privileged: false } })
    expect(error.reason).toBe("PrivilegedNotAllowed")
    expect(error.message).toBe(
      "Running privileged jobs are not allowed. Set allow_privileged to true in plugin config to allow running privileged jobs."
    )
  })

  it("grants exactly the host's capabilities, in kernel bit order", () => {
    const s = spec({ task: { privileged: true }, host: { capabilities: hostCaps } })
    const expected = ctrPrivilegedCapabilities
    expect(s.process.capabilities).toEqual({ bounding: expected, effective: expected, permitted: expected })
  })

  it("lifts the masks, allows new privileges, makes /sys writable and allows every device", () => {
    const s = spec({ task: { privileged: true } })
    expect(s.linux.maskedPaths).toBeUndefined()
    expect(s.linux.readonlyPaths).toBeUndefined()
    expect(s.process.noNewPrivileges).toBe(false)
    expect(mountAt(s, "/sys")?.options).toEqual(["nosuid", "noexec", "nodev", "rw"])
    expect(s.linux.resources?.devices).toEqual([{ allow: true, access: "rwm" }])
  })

  it("adds every host device node except consoles, FIFOs and the skipped directories", () => {
    const s = spec({ task: { privileged: true } })
    expect(s.linux.devices?.map((d) => d.path)).toEqual([
      "/dev/fuse", "/dev/net/tun", "/dev/null", "/dev/nvidia0", "/dev/sda", "/dev/zero"
    ])
    expect(s.linux.devices?.find((d) => d.path === "/dev/sda")).toEqual({
      path: "/dev/sda", type: "b", major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6
    })
  })

  it("is a no-op when false", () => {
    expect(spec({ task: { privileged: false }, driver: { allow_privileged: false } }).linux.maskedPaths).toEqual(
      defaultMaskedPaths
    )
  })
})

describe("pids_limit", () => {
  it("sets linux.resources.pids when positive", () => {
    expect(spec({ task: { pids_limit: 200 } }).linux.resources?.pids).toEqual({ limit: 200 })
  })
  it.each([0, -1])("ignores %d (unlimited)", (limit) => {
    expect(spec({ task: { pids_limit: limit } }).linux.resources?.pids).toBeUndefined()
  })
})

describe("pid_mode", () => {
  it.each(["host", "HOST", "Host"])("%s shares the host pid namespace", (mode) => {
    expect(spec({ task: { pid_mode: mode } }).linux.namespaces.map((n) => n.type)).not.toContain("pid")
  })
  it("keeps a private pid namespace when unset or empty", () => {
    expect(spec({ task: { pid_mode: "" } }).linux.namespaces.map((n) => n.type)).toContain("pid")
  })
  it.each(["private", "container:x", "hosts"])("refuses %s with the original message", (mode) => {
    const error = failure({ task: { pid_mode: mode } })
    expect(error.reason).toBe("InvalidPidMode")
    expect(error.message).toBe("Invalid pid_mode. Set pid_mode=host to enable host pid namespace.")
  })
})

describe("shm_size", () => {
  it.each([
    ["128M", "size=131072k"],
    ["1g", "size=1048576k"],
    ["512k", "size=512k"],
    ["1048576", "size=1024k"],
    ["1.5GiB", "size=1572864k"]
  ])("%s → %s on /dev/shm", (size, option) => {
    const shm = mountAt(spec({ task: { shm_size: size } }), "/dev/shm")
    expect(shm?.options).toEqual(["nosuid", "noexec", "nodev", "mode=1777", option])
  })
  it.each(["12x", "M", "-1m", "1mb2"])("refuses %s with the original prefix", (size) => {
    const error = failure({ task: { shm_size: size } })
    expect(error.reason).toBe("InvalidShmSize")
    expect(error.message).toBe(`Error in setting shm_size: invalid size: '${size}'`)
  })
  it("refuses sizes under 1 KiB, which tmpfs would read as unlimited", () => {
    const error = failure({ task: { shm_size: "100" } })
    expect(error.reason).toBe("InvalidShmSize")
    expect(error.message).toBe("Error in setting shm_size: \"100\" is less than 1k")
  })
  it.each(["1k", "1024"])("accepts exactly 1 KiB (%s)", (size) => {
    expect(mountAt(spec({ task: { shm_size: size } }), "/dev/shm")?.options).toEqual(["nosuid", "noexec", "nodev", "mode=1777", "size=1k"])
  })
  it("changes no mount but /dev/shm", () => {
    const s = spec({ task: { shm_size: "128M" } })
    const others = (mounts: ReadonlyArray<Mount>) => mounts.filter((m) => m.destination !== "/dev/shm")
    expect(others(s.mounts.slice(0, defaultMounts.length))).toEqual(others(defaultMounts))
  })
})

describe("sysctl", () => {
  it("writes linux.sysctl", () => {
    const sysctl = { "net.core.somaxconn": "16384", "kernel.shmmax": "1024" }
    expect(spec({ task: { sysctl } }).linux.sysctl).toEqual(sysctl)
  })
  it("refuses net.* with host_network", () => {
    expect(failure({ task: { host_network: true, sysctl: { "net.ipv4.ip_forward": "1" } } }).reason).toBe("InvalidSysctl")
  })
  it("refuses a key with spaces", () => {
    expect(failure({ task: { sysctl: { "net core": "1" } } }).reason).toBe("InvalidSysctl")
  })
  it("accepts every namespaced parameter runc accepts, in dotted or slashed form", () => {
    const sysctl = {
      "kernel.msgmax": "1", "kernel.msgmnb": "1", "kernel.msgmni": "1", "kernel.sem": "250 32000 32 128", "kernel.shmall": "1",
      "kernel.shmmax": "1", "kernel.shmmni": "1", "kernel.shm_rmid_forced": "1", "fs.mqueue.msg_max": "10",
      "kernel.domainname": "example.org", "net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.100/rp_filter": "0"
    }
    expect(spec({ task: { sysctl } }).linux.sysctl).toEqual(sysctl)
  })
  it.each(["kernel.modprobe", "kernel.core_pattern", "vm.overcommit_memory", "kernel/core_pattern", "fs.file-max"])(
    "refuses %s, which is not namespaced, stating the rule",
    (key) => {
      const error = failure({ task: { sysctl: { [key]: "x" } } })
      expect(error.reason).toBe("InvalidSysctl")
      expect(error.message).toBe(
        `sysctl ${JSON.stringify(key)} is not namespaced, so setting it would change the host; a task may set only ` +
          "namespaced kernel parameters: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, " +
          "kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*, kernel.domainname, and net.* " +
          "(not with host_network = true)"
      )
    }
  )
  it.each(["net/../../kernel/modprobe", "net.ipv4..ip_forward", "net.", ".net.core.somaxconn", "net/./core/somaxconn"])(
    "refuses %s, whose parts do not name a parameter",
    (key) => {
      const error = failure({ task: { sysctl: { [key]: "1" } } })
      expect(error.reason).toBe("InvalidSysctl")
      expect(error.message).toContain("no empty, \".\" or \"..\" part")
    }
  )
  it("refuses kernel.hostname, which the hostname option sets", () => {
    expect(failure({ task: { sysctl: { "kernel.hostname": "x" } } }).message).toContain("set the task's hostname option instead")
  })
  it("refuses net.* in slashed form with host_network", () => {
    expect(failure({ task: { host_network: true, sysctl: { "net/core/somaxconn": "1" } } }).message).toContain("host_network")
  })
  it("reads a slashed key as runc does, swapping / and .", () => {
    expect(dottedSysctl("net/ipv4/conf/eno2.100/rp_filter")).toBe("net.ipv4.conf.eno2/100.rp_filter")
    expect(dottedSysctl("net.ipv4.conf.eno2/100.rp_filter")).toBe("net.ipv4.conf.eno2/100.rp_filter")
  })
})

describe("readonly_rootfs", () => {
  it("sets root.readonly", () => {
    expect(spec({ task: { readonly_rootfs: true } }).root).toEqual({ path: "rootfs", readonly: true })
    expect(spec().root.readonly).toBeUndefined()
  })
})

describe("host_network", () => {
  it("drops the network namespace and binds the host's hosts and resolv.conf read-only", () => {
    const result = build({ task: { host_network: true } })
    expect(result.spec.linux.namespaces.map((n) => n.type)).not.toContain("network")
    expect(mountAt(result.spec, "/etc/hosts")).toEqual({ destination: "/etc/hosts", type: "bind", source: "/etc/hosts", options: ["rbind", "ro"] })
    expect(mountAt(result.spec, "/etc/resolv.conf")).toEqual({
      destination: "/etc/resolv.conf", type: "bind", source: "/etc/resolv.conf", options: ["rbind", "ro"]
    })
    expect(result.files).toEqual([])
  })

  it("with extra_hosts writes the host's hosts file plus the extras, bound read-only", () => {
    const result = build({ task: { host_network: true, extra_hosts: ["db:10.1.2.3"] } })
    expect(result.files).toEqual([{ name: "hosts", content: "127.0.0.1\tlocalhost\n10.0.0.5\tnode1\n10.1.2.3\tdb\n" }])
    expect(mountAt(result.spec, "/etc/hosts")).toEqual({
      destination: "/etc/hosts", type: "bind", source: `${generatedDir}/hosts`, options: ["rbind", "ro"]
    })
  })

  it("binds the host's resolv.conf whatever host_dns says, even with a loopback resolver the host netns can reach", () => {
    for (const o of [{ task: { host_network: true, host_dns: false } }, {
      task: { host_network: true },
      host: { hostResolvConf: "nameserver 127.0.0.53\n" }
    }]) {
      const result = build(o)
      expect(mountAt(result.spec, "/etc/resolv.conf")).toEqual({
        destination: "/etc/resolv.conf", type: "bind", source: "/etc/resolv.conf", options: ["rbind", "ro"]
      })
      expect(result.files).toEqual([])
    }
  })

  it("with extra_hosts needs the host's /etc/hosts contents", () => {
    const input = specInput({ task: { host_network: true, extra_hosts: ["db:10.1.2.3"] } })
    const { hostHosts: _hostHosts, ...host } = input.host
    const result = buildSpec({ ...input, host })
    expect(Either.isLeft(result) && result.left.reason).toBe("MissingHostFact")
    expect(Either.isLeft(result) && result.left.message).toBe(
      "host_network with extra_hosts needs the host's /etc/hosts contents (hostHosts)"
    )
  })

  it("is allowed with an isolation spec in host mode, which is not a group network", () => {
    const s = spec({ task: { host_network: true }, nomad: { network_isolation_spec: { mode: "host", path: "/proc/1/ns/net" } } })
    expect(s.linux.namespaces.map((n) => n.type)).not.toContain("network")
  })

  it("is refused together with a group network, in the original's words", () => {
    const error = failure({
      task: { host_network: true },
      nomad: { network_isolation_spec: { mode: "group", path: "/var/run/netns/x" } }
    })
    expect(error.reason).toBe("HostNetworkWithGroupNetwork")
    expect(error.message).toBe("host_network and bridge network mode are mutually exclusive, and only one of them should be set")
  })
})

describe("group network", () => {
  it("joins Nomad's network namespace", () => {
    const s = spec({ nomad: { network_isolation_spec: { mode: "group", path: "/var/run/netns/abc" } } })
    expect(s.linux.namespaces.filter((n) => n.type === "network")).toEqual([{ type: "network", path: "/var/run/netns/abc" }])
  })
  it("keeps a new empty network namespace without one (the original's isolated default)", () => {
    expect(spec().linux.namespaces.filter((n) => n.type === "network")).toEqual([{ type: "network" }])
  })
  it.each([
    ["an isolation spec in host mode (the protocol's default mode)", { mode: "host", path: "/var/run/netns/abc" }],
    ["a group spec without a namespace path", { mode: "group", path: "" }]
  ] as const)("keeps a new empty network namespace with %s", (_, network_isolation_spec) => {
    const s = spec({ nomad: { network_isolation_spec } })
    expect(s.linux.namespaces.filter((n) => n.type === "network")).toEqual([{ type: "network" }])
  })
})

describe("cap_add / cap_drop", () => {
  it.each(["CAP_SYS_ADMIN", "SYS_ADMIN", "sys_admin", "cap_sys_admin", " Sys_Admin "])("accepts %j", (name) => {
    expect(caps(spec({ task: { cap_add: [name] } }))).toEqual([...defaultCapabilities, "CAP_SYS_ADMIN"])
  })
  it("drops from all three sets", () => {
    const s = spec({ task: { cap_drop: ["net_raw", "CAP_MKNOD"] } })
    const expected = defaultCapabilities.filter((c) => c !== "CAP_NET_RAW" && c !== "CAP_MKNOD")
    expect(s.process.capabilities).toEqual({ bounding: expected, effective: expected, permitted: expected })
  })
  it("lets cap_drop win over cap_add", () => {
    expect(caps(spec({ task: { cap_add: ["NET_ADMIN"], cap_drop: ["net_admin"] } }))).not.toContain("CAP_NET_ADMIN")
  })
  it("cap_add ALL grants every host capability", () => {
    const host = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"]
    expect(caps(spec({ task: { cap_add: ["all"] }, host: { capabilities: host } }))).toEqual(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"])
  })
  it("cap_drop ALL leaves only what cap_add names", () => {
    expect(caps(spec({ task: { cap_drop: ["ALL"] } }))).toEqual([])
    expect(caps(spec({ task: { cap_drop: ["ALL"], cap_add: ["NET_BIND_SERVICE"] } }))).toEqual(["CAP_NET_BIND_SERVICE"])
  })
  it("drops from the privileged set", () => {
    const s = spec({ task: { privileged: true, cap_drop: ["SYS_ADMIN"] } })
    expect(caps(s)).toEqual(kernelCapabilities.filter((c) => c !== "CAP_SYS_ADMIN"))
  })
  it("refuses unknown names with an actionable message", () => {
    const error = failure({ task: { cap_add: ["CAP_FLY"] } })
    expect(error.reason).toBe("UnknownCapability")
    expect(error.message).toContain("\"CAP_FLY\" in cap_add")
    expect(failure({ task: { cap_drop: ["nope"] } }).message).toContain("in cap_drop")
  })
  it("refuses capabilities the driver process lacks", () => {
    const error = failure({ task: { cap_add: ["SYS_RESOURCE"] }, host: { capabilities: defaultCapabilities } })
    expect(error.reason).toBe("CapabilityNotAvailable")
    expect(error.message).toContain("CAP_SYS_RESOURCE")
  })
})

describe("cwd", () => {
  it("defaults to the image WorkingDir, else /", () => {
    expect(spec({ image: { workingDir: "/srv" } }).process.cwd).toBe("/srv")
    expect(spec().process.cwd).toBe("/")
  })
  it("is overridden by the cwd option", () => {
    expect(spec({ task: { cwd: "/data" }, image: { workingDir: "/srv" } }).process.cwd).toBe("/data")
  })
  it("must be absolute", () => {
    const error = failure({ task: { cwd: "data" } })
    expect(error.reason).toBe("InvalidCwd")
    expect(error.message).toBe("cwd \"data\" must be an absolute path inside the container")
  })
})

describe("env", () => {
  it("puts Nomad's variables after the image's, keeping the image's PATH", () => {
    const s = spec({ image: { env: ["PATH=/image/bin", "LANG=C"] }, nomad: { env: { PATH: "/host", B: "2", A: "1" } } })
    expect(s.process.env).toEqual(["PATH=/image/bin", "LANG=C", "A=1", "B=2"])
  })
  it("lets Nomad replace an image variable in place", () => {
    expect(spec({ image: { env: ["A=image", "B=image"] }, nomad: { env: { A: "nomad" } } }).process.env).toEqual([
      "A=nomad", "B=image"
    ])
  })
  it("uses containerd's default PATH when the image has no env", () => {
    expect(spec({ image: { env: [] }, nomad: { env: {} } }).process.env).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ])
  })
  it("replaces an image variable written without \"=\" by Nomad's of the same name", () => {
    expect(spec({ image: { env: ["DEBUG", "LANG=C"] }, nomad: { env: { DEBUG: "1" } } }).process.env).toEqual([
      "DEBUG=1", "LANG=C"
    ])
  })
  it("skips a Nomad variable with an empty name, which would reach the process as \"=value\"", () => {
    expect(spec({ image: { env: ["LANG=C"] }, nomad: { env: { "": "x", A: "1" } } }).process.env).toEqual(["LANG=C", "A=1"])
  })
  it("adds no PATH when the image env has none", () => {
    expect(spec({ image: { env: ["LANG=C"] }, nomad: { env: {} } }).process.env).toEqual(["LANG=C"])
  })
})

const baseResources = () => ({
  cpu_shares: 500,
  memory_mb: 256,
  memory_max_mb: 0,
  linux: {
    cpu_shares: 500,
    memory_limit_bytes: 0,
    cpuset_cpus: "",
    cpuset_cgroup: "",
    cpu_period: 0,
    cpu_quota: 0,
    PercentTicks: 0.0625
  }
})
const withLinux = (linux: Partial<ReturnType<typeof baseResources>["linux"]>) => ({
  resources: { ...baseResources(), linux: { ...baseResources().linux, ...linux } }
})

describe("memory", () => {
  const MiB = 1024 * 1024
  it("is a hard limit at the task's memory", () => {
    expect(spec().linux.resources?.memory).toEqual({ limit: 256 * MiB })
  })
  it("with memory_max: limit = memory_max, reservation = memory", () => {
    const nomad = { resources: { ...baseResources(), memory_mb: 256, memory_max_mb: 1024 } }
    expect(spec({ nomad }).linux.resources?.memory).toEqual({ limit: 1024 * MiB, reservation: 256 * MiB })
  })
})

describe("cpu", () => {
  it("sets cpu.shares from Nomad's cpu_shares", () => {
    expect(spec().linux.resources?.cpu).toEqual({ shares: 500 })
  })
  it("applies Nomad's reserved cores", () => {
    expect(spec({ nomad: withLinux({ cpuset_cpus: "0,1" }) }).linux.resources?.cpu?.cpus).toBe("0,1")
  })
  it("lets cpuset_cpus / cpuset_mems override them", () => {
    const cpu = spec({ task: { cpuset_cpus: "2-3", cpuset_mems: "0" }, nomad: withLinux({ cpuset_cpus: "0,1" }) }).linux.resources?.cpu
    expect(cpu).toEqual({ shares: 500, cpus: "2-3", mems: "0" })
  })
  it.each(["a", "3-1", "1,,2", "-1", "0-1,3-2"])("refuses cpuset %j", (cpus) => {
    expect(failure({ task: { cpuset_cpus: cpus } }).reason).toBe("InvalidCpuset")
  })
  it.each(["0,8-15", "0-3,8-11,12"])("accepts the cpu list %j with a range after a comma", (cpus) => {
    expect(spec({ task: { cpuset_cpus: cpus, cpuset_mems: cpus } }).linux.resources?.cpu).toEqual({ shares: 500, cpus, mems: cpus })
  })
  it("names the option and shows the form in the cpuset message", () => {
    expect(failure({ task: { cpuset_mems: "0-" } }).message).toBe(
      "cpuset_mems = \"0-\" is not a cpu list; use numbers and ranges like \"0-2,4\""
    )
  })
  it("cpu_hard_limit: quota = PercentTicks × period × cores (Docker driver)", () => {
    const cpu = spec({ task: { cpu_hard_limit: true }, nomad: withLinux({ PercentTicks: 0.25 }), host: { cpuCount: 4 } }).linux.resources?.cpu
    expect(cpu).toEqual({ shares: 500, period: 100000, quota: 100000 })
  })
  it("cpu_hard_limit honours cpu_cfs_period and the 1000 µs minimum quota", () => {
    const cpu = spec({
      task: { cpu_hard_limit: true, cpu_cfs_period: 50000 },
      nomad: withLinux({ PercentTicks: 0.001 }),
      host: { cpuCount: 2 }
    }).linux.resources?.cpu
    expect(cpu).toMatchObject({ period: 50000, quota: 1000 })
  })
  it("cpu_cfs_period without cpu_hard_limit changes nothing", () => {
    expect(spec({ task: { cpu_cfs_period: 50000 } }).linux.resources?.cpu).toEqual({ shares: 500 })
  })
  it.each([999, 1000001])("refuses cpu_cfs_period %d", (period) => {
    const error = failure({ task: { cpu_hard_limit: true, cpu_cfs_period: period } })
    expect(error.reason).toBe("InvalidCpuPeriod")
    expect(error.message).toBe(`invalid value for cpu_cfs_period: ${period}; it must be between 1000 and 1000000 microseconds`)
  })
  it.each([
    [1000, { shares: 500, period: 1000, quota: 1000 }],
    [1000000, { shares: 500, period: 1000000, quota: 250000 }],
    [0, { shares: 500, period: 100000, quota: 25000 }]
  ])("cpu_hard_limit takes cpu_cfs_period %d (bounds included, 0 = the default 100000)", (period, expected) => {
    const cpu = spec({
      task: { cpu_hard_limit: true, cpu_cfs_period: period },
      nomad: withLinux({ PercentTicks: 0.0625 }),
      host: { cpuCount: 4 }
    }).linux.resources?.cpu
    expect(cpu).toEqual(expected)
  })
  it("refuses cpu_hard_limit without Nomad's PercentTicks, saying what to set", () => {
    const error = failure({ task: { cpu_hard_limit: true }, nomad: withLinux({ PercentTicks: 0 }) })
    expect(error.reason).toBe("MissingCpuShare")
    expect(error.message).toBe(
      "cpu_hard_limit = true needs the task's share of the node's CPU (PercentTicks), which Nomad did not send; " +
        "set resources { cpu = ... } or turn cpu_hard_limit off"
    )
  })
})

describe("ulimit", () => {
  it("replaces the default RLIMIT_NOFILE and appends others", () => {
    const s = spec({ task: { ulimit: { nofile: "65536:65536", nproc: "4096" } } })
    expect(s.process.rlimits).toEqual([
      { type: "RLIMIT_NOFILE", hard: 65536, soft: 65536 },
      { type: "RLIMIT_NPROC", hard: 4096, soft: 4096 }
    ])
  })
  it("takes 2^64 − 1 itself as RLIM_INFINITY", () => {
    const s = spec({ task: { ulimit: { core: "18446744073709551615" } } })
    expect(s.process.rlimits?.find((r) => r.type === "RLIMIT_CORE")).toEqual({ type: "RLIMIT_CORE", hard: rlimInfinity, soft: rlimInfinity })
  })
  it("accepts soft:hard, unlimited and the RLIMIT_ prefix in any case", () => {
    const s = spec({ task: { ulimit: { RLIMIT_MEMLOCK: "unlimited", core: "0:-1" } } })
    expect(s.process.rlimits).toEqual([
      { type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 },
      { type: "RLIMIT_MEMLOCK", hard: rlimInfinity, soft: rlimInfinity },
      { type: "RLIMIT_CORE", hard: rlimInfinity, soft: 0 }
    ])
  })
  it.each([
    [{ fly: "1" }, "unknown ulimit"],
    [{ nofile: "" }, "invalid ulimit nofile"],
    [{ nofile: "1:2:3" }, "invalid ulimit nofile"],
    [{ nofile: "abc" }, "invalid ulimit nofile"],
    [{ nofile: "2048:1024" }, "soft limit is above the hard limit"],
    [{ nofile: "1", NOFILE: "2" }, "more than once"],
    // Beyond what an rlimit holds: refused, not turned into "unlimited".
    [{ nofile: "18446744073709551616" }, "a limit is at most 18446744073709551615 (2^64 − 1); write \"unlimited\" for no limit"],
    [{ memlock: "1:99999999999999999999999" }, "invalid ulimit memlock"]
  ])("refuses %j", (ulimit, message) => {
    const error = failure({ task: { ulimit } })
    expect(error.reason).toBe("InvalidUlimit")
    expect(error.message).toContain(message)
  })
})

describe("hostname", () => {
  it("defaults to the container id", () => {
    expect(spec().hostname).toBe(containerId)
  })
  it("is the hostname option when set", () => {
    expect(spec({ task: { hostname: "cache-1" } }).hostname).toBe("cache-1")
  })
  it("cuts a long default (a cgroup v2 id with a long task name) to the kernel's 64 characters", () => {
    const id = "0b6a1c2e-5d4f-4e3a-9b8c-7d6e5f4a3b2c.a-rather-long-task-name.scope"
    expect(spec({ containerId: id }).hostname).toBe(id.slice(0, 64))
  })
  it("refuses a hostname the kernel would refuse", () => {
    const error = failure({ task: { hostname: "x".repeat(65) } })
    expect(error.reason).toBe("InvalidHostname")
    expect(error.message).toBe(`hostname "${"x".repeat(65)}" is not usable: at most 64 characters, no spaces or slashes`)
  })
  it("accepts a hostname of exactly 64 characters", () => {
    expect(spec({ task: { hostname: "x".repeat(64) } }).hostname).toBe("x".repeat(64))
  })
})

describe("devices", () => {
  it("exposes a host device at the same path with an rwm cgroup rule", () => {
    const s = spec({ task: { devices: ["/dev/fuse"] } })
    expect(s.linux.devices).toEqual([{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }])
    expect(s.linux.resources?.devices?.at(-1)).toEqual({ allow: true, type: "c", major: 10, minor: 229, access: "rwm" })
  })
  it("maps Nomad device-plugin devices to their task path with their permissions", () => {
    const s = spec({ nomad: { devices: [{ host_path: "/dev/nvidia0", task_path: "/dev/gpu0", cgroup_permissions: "rw" }] } })
    expect(s.linux.devices?.[0]).toMatchObject({ path: "/dev/gpu0", major: 195, minor: 0 })
    expect(s.linux.resources?.devices?.at(-1)).toEqual({ allow: true, type: "c", major: 195, minor: 0, access: "rw" })
  })
  it("refuses a path that is not a host device", () => {
    const error = failure({ task: { devices: ["/dev/nothing"] } })
    expect(error.reason).toBe("DeviceNotFound")
    expect(error.message).toContain("/dev/nothing")
  })
  it("refuses bad permissions", () => {
    expect(failure({ nomad: { devices: [{ host_path: "/dev/null", task_path: "", cgroup_permissions: "rx" }] } }).reason).toBe(
      "InvalidDevice"
    )
  })
})

describe("mounts", () => {
  const mount = (m: { type: string; target: string; source?: string; options?: ReadonlyArray<string> }) => ({
    task: { mounts: [{ options: [], ...m }] }
  })
  it("passes a bind mount through", () => {
    expect(mountAt(spec(mount({ type: "bind", target: "/data", source: "/srv/data", options: ["rbind", "ro"] })), "/data")).toEqual({
      destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "ro"]
    })
  })
  it("emits volume as a bind mount and adds rbind when no bind flag is given", () => {
    expect(mountAt(spec(mount({ type: "volume", target: "/data", source: "/srv/data", options: ["ro"] })), "/data")).toEqual({
      destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "ro"]
    })
  })
  it.each(["bind", "volume"])("refuses %s without options, in the original's words", (type) => {
    const error = failure(mount({ type, target: "/data", source: "/srv" }))
    expect(error.reason).toBe("InvalidMount")
    expect(error.message).toBe(`Options cannot be empty for mount type: ${type}. You need to atleast pass rbind and ro.`)
  })
  it.each(["nfs", "proc", "overlay", "Bind"])("refuses type %s, which the mounts option does not take", (type) => {
    const error = failure(mount({ type, target: "/data", source: "server:/export", options: ["rw"] }))
    expect(error.reason).toBe("InvalidMount")
    expect(error.message).toBe(
      `mount with target "/data" has type ${JSON.stringify(type)}; the mounts option takes "bind", "volume" (a bind mount) ` +
        "or \"tmpfs\": mount other filesystems on the host and bind them, or use a Nomad volume"
    )
  })
  it("refuses an unknown type even with bind options, which runc would have bind-mounted", () => {
    expect(failure(mount({ type: "nfs", target: "/data", source: "/srv", options: ["rbind"] })).reason).toBe("InvalidMount")
  })
  it("passes tmpfs through with or without options", () => {
    expect(mountAt(spec(mount({ type: "tmpfs", target: "/scratch", options: ["size=16m"] })), "/scratch")).toEqual({
      destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["size=16m"]
    })
    expect(mountAt(spec(mount({ type: "tmpfs", target: "/scratch" })), "/scratch")).toEqual({
      destination: "/scratch", type: "tmpfs", source: "tmpfs"
    })
  })
  it.each([
    ["local/config", `${taskDir}/local/config`],
    ["./local/config", `${taskDir}/local/config`],
    ["local", `${taskDir}/local`],
    ["secrets/token", `${taskDir}/secrets/token`],
    ["alloc/data", `${allocDir}/alloc/data`],
    ["local/a/../b", `${taskDir}/local/b`]
  ])("resolves the relative source %s", (source, resolved) => {
    expect(mountAt(spec(mount({ type: "bind", target: "/cfg", source, options: ["rbind"] })), "/cfg")?.source).toBe(resolved)
  })
  it.each(["localfoo/x", "tmp/x", "../x", "private/x"])("refuses the relative source %s", (source) => {
    expect(failure(mount({ type: "bind", target: "/cfg", source, options: ["rbind"] })).reason).toBe("InvalidMountSource")
  })
  it.each(["local/../secrets/x", "local/../../other/local", "alloc/../web/secrets", "secrets/../.."])(
    "refuses %s, which escapes its directory",
    (source) => {
      expect(failure(mount({ type: "bind", target: "/cfg", source, options: ["rbind"] })).reason).toBe("MountSourceEscapes")
    }
  )
  it("checks a tmpfs mount carrying a bind flag like a bind (runc binds it)", () => {
    const type = "tmpfs"
    expect(failure(mount({ type, target: "/cfg", source: "local/../../other", options: ["rbind", "ro"] })).reason).toBe("MountSourceEscapes")
    expect(mountAt(spec(mount({ type, target: "/cfg", source: "local/x", options: ["bind"] })), "/cfg")?.source).toBe(`${taskDir}/local/x`)
  })
  it("refuses a relative source whose realpath leaves the directory", () => {
    const error = failure({
      ...mount({ type: "bind", target: "/cfg", source: "local/link", options: ["rbind"] }),
      host: { realpaths: { [`${taskDir}/local/link`]: "/etc/shadow" } }
    })
    expect(error.reason).toBe("MountSourceEscapes")
    expect(error.message).toContain("/etc/shadow")
  })
  it("accepts a relative source whose realpath stays inside", () => {
    const s = spec({
      ...mount({ type: "bind", target: "/cfg", source: "local/link", options: ["rbind"] }),
      host: { realpaths: { [`${taskDir}/local/link`]: `/data/nomad/web/local/real`, [`${taskDir}/local`]: "/data/nomad/web/local" } }
    })
    expect(mountAt(s, "/cfg")?.source).toBe(`${taskDir}/local/link`)
  })
  it("refuses relative and reserved targets", () => {
    expect(failure(mount({ type: "tmpfs", target: "scratch" })).reason).toBe("InvalidMount")
    expect(failure(mount({ type: "tmpfs", target: "/local/" })).message).toContain("task directory")
    expect(failure(mount({ type: "tmpfs", target: "/" })).reason).toBe("InvalidMount")
  })
  it("replaces an earlier mount on the same destination in place", () => {
    const s = spec(mount({ type: "tmpfs", target: "/dev/shm/", options: ["size=1g"] }))
    expect(s.mounts.filter((m) => m.destination.startsWith("/dev/shm"))).toEqual([
      { destination: "/dev/shm", type: "tmpfs", source: "tmpfs", options: ["size=1g"] }
    ])
    expect(s.mounts.findIndex((m) => m.destination === "/dev/shm")).toBe(3)
  })
  it("lets a task mount replace the generated /etc/hosts (which is then not written)", () => {
    const result = build(mount({ type: "bind", target: "/etc/hosts", source: "/srv/hosts", options: ["rbind", "ro"] }))
    expect(result.spec.mounts.filter((m) => m.destination === "/etc/hosts")).toEqual([
      { destination: "/etc/hosts", type: "bind", source: "/srv/hosts", options: ["rbind", "ro"] }
    ])
    expect(result.files.map((f) => f.name)).not.toContain("hosts")
  })
  it("orders added mounts parents first", () => {
    const s = spec({ nomad: { mounts: [{ task_path: "/local/data", host_path: "/srv/vol", readonly: false, propagation_mode: "" }] } })
    const order = s.mounts.map((m) => m.destination)
    expect(order.indexOf("/local")).toBeLessThan(order.indexOf("/local/data"))
  })
  it("sets the root propagation a shared or slave mount needs", () => {
    expect(spec(mount({ type: "bind", target: "/csi", source: "/srv/csi", options: ["rbind", "rshared"] })).linux.rootfsPropagation).toBe("shared")
    expect(spec(mount({ type: "bind", target: "/csi", source: "/srv/csi", options: ["rbind", "rslave"] })).linux.rootfsPropagation).toBe("rslave")
    expect(spec().linux.rootfsPropagation).toBeUndefined()
  })
})

describe("Nomad volume mounts", () => {
  const volume = (readonly: boolean, propagation_mode: string) => ({
    nomad: { mounts: [{ task_path: "/vol", host_path: "/srv/vol", readonly, propagation_mode }] }
  })
  it.each([
    [false, "", ["rbind"]],
    [true, "", ["rbind", "ro"]],
    [false, "private", ["rbind", "rprivate"]],
    [true, "host-to-task", ["rbind", "ro", "rslave"]],
    [false, "bidirectional", ["rbind", "rshared"]]
  ] as const)("readonly %s, propagation %j → %j", (readonly, mode, options) => {
    expect(mountAt(spec(volume(readonly, mode)), "/vol")).toEqual({ destination: "/vol", type: "bind", source: "/srv/vol", options })
  })
  it("refuses an unknown propagation mode", () => {
    expect(failure(volume(false, "sideways")).reason).toBe("InvalidPropagation")
  })
  it("wins over a task mount on the same destination", () => {
    const s = spec({ ...volume(true, ""), task: { mounts: [{ type: "tmpfs", target: "/vol", options: [] }] } })
    expect(s.mounts.filter((m) => m.destination === "/vol").map((m) => m.source)).toEqual(["/srv/vol"])
  })
})

describe("task directories", () => {
  it("binds secrets, local and alloc read-write at NOMAD_*_DIR", () => {
    const s = spec({ nomad: { env: { NOMAD_TASK_DIR: "/task/local", NOMAD_SECRETS_DIR: "/task/secrets", NOMAD_ALLOC_DIR: "/shared" } } })
    expect(mountAt(s, "/task/local")).toEqual({ destination: "/task/local", type: "bind", source: `${taskDir}/local`, options: ["rbind", "rw"] })
    expect(mountAt(s, "/task/secrets")?.source).toBe(`${taskDir}/secrets`)
    expect(mountAt(s, "/shared")?.source).toBe(`${allocDir}/alloc`)
  })
  it("defaults to /alloc, /local, /secrets", () => {
    const s = spec({ nomad: { env: {} } })
    expect(["/alloc", "/local", "/secrets"].map((d) => mountAt(s, d)?.source)).toEqual([
      `${allocDir}/alloc`, `${taskDir}/local`, `${taskDir}/secrets`
    ])
  })
})

describe("/etc/hosts", () => {
  it("is generated with the default records and extra_hosts", () => {
    const result = build({ task: { extra_hosts: ["db:10.1.2.3", "v6:2001:db8::1"] } })
    expect(result.files.find((f) => f.name === "hosts")?.content).toBe(
      "# generated by containerd-driver\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" +
        "10.1.2.3\tdb\n2001:db8::1\tv6\n"
    )
    expect(mountAt(result.spec, "/etc/hosts")).toEqual({
      destination: "/etc/hosts", type: "bind", source: `${generatedDir}/hosts`, options: ["rbind", "ro"]
    })
  })
  it("binds every generated file read-only (the original bound /etc/hosts read-write)", () => {
    const result = build({
      task: { extra_hosts: ["db:10.1.2.3"] },
      nomad: { dns: { servers: ["10.0.0.53"], searches: [], options: [] } }
    })
    const generated = result.spec.mounts.filter((m) => m.source?.startsWith(`${generatedDir}/`))
    expect(generated.map((m) => m.destination).sort()).toEqual(["/etc/hosts", "/etc/resolv.conf"])
    for (const m of generated) expect(m.options, m.destination).toEqual(["rbind", "ro"])
  })
  it("names the allocation's own address and hostname from Nomad's HostsConfig", () => {
    const result = build({
      task: { hostname: "api" },
      nomad: { network_isolation_spec: { mode: "group", path: "/var/run/netns/a", hostsConfig: { hostname: "alloc-host", address: "172.26.64.5" } } }
    })
    expect(result.files.find((f) => f.name === "hosts")?.content).toContain("172.26.64.5\talloc-host api\n")
  })
  it.each([
    ["names the allocation's hostname once when the task's hostname is the same", "alloc-host", "alloc-host", "172.26.64.5\talloc-host"],
    ["leaves out an empty allocation hostname", "", "api", "172.26.64.5\tapi"]
  ])("%s", (_, allocHostname, hostname, line) => {
    const result = build({
      task: { hostname },
      nomad: { network_isolation_spec: { mode: "group", path: "/var/run/netns/a", hostsConfig: { hostname: allocHostname, address: "172.26.64.5" } } }
    })
    const content = result.files.find((f) => f.name === "hosts")?.content ?? ""
    expect(content.split("\n").filter((l) => l.startsWith("172.26.64.5"))).toEqual([line])
  })
  it.each([
    ["db", "bad format for add-host"],
    [":10.0.0.1", "bad format for add-host"],
    ["db:10.0.0", "invalid IP address in add-host"],
    ["db:fe80::1%eth0", "invalid IP address in add-host"],
    ["db:host-gateway", "host-gateway is not supported"]
  ])("refuses extra_hosts entry %j", (entry, message) => {
    const error = failure({ task: { extra_hosts: [entry] } })
    expect(error.reason).toBe("InvalidExtraHost")
    expect(error.message).toContain(message)
  })
})

describe("/etc/resolv.conf", () => {
  it("binds the host's file read-only with host_dns (the default)", () => {
    const result = build()
    expect(mountAt(result.spec, "/etc/resolv.conf")).toEqual({
      destination: "/etc/resolv.conf", type: "bind", source: "/etc/resolv.conf", options: ["rbind", "ro"]
    })
    expect(result.files.map((f) => f.name)).toEqual(["hosts"])
  })
  it("leaves the image's file with host_dns = false", () => {
    expect(mountAt(spec({ task: { host_dns: false } }), "/etc/resolv.conf")).toBeUndefined()
  })
  it("writes a copy without loopback resolvers when the host uses a local stub", () => {
    const result = build({ host: { hostResolvConf: "nameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n" } })
    expect(result.files.find((f) => f.name === "resolv.conf")?.content).toBe(
      "# generated by containerd-driver\nnameserver 10.0.0.2\noptions edns0\n"
    )
    expect(mountAt(result.spec, "/etc/resolv.conf")?.source).toBe(`${generatedDir}/resolv.conf`)
  })
  it("is written from Nomad's dns block, filling empty fields from the host, and wins over host_dns", () => {
    const result = build({ nomad: { dns: { servers: ["1.1.1.1", "8.8.8.8"], searches: [], options: ["ndots:2"] } } })
    expect(result.files.find((f) => f.name === "resolv.conf")?.content).toBe(
      "# generated by containerd-driver\nsearch example.internal\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n"
    )
    expect(mountAt(result.spec, "/etc/resolv.conf")).toEqual({
      destination: "/etc/resolv.conf", type: "bind", source: `${generatedDir}/resolv.conf`, options: ["rbind", "ro"]
    })
  })
})

describe("user", () => {
  it("is root with root's supplementary groups by default", () => {
    expect(spec().process.user).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] })
  })
  it("follows the image USER", () => {
    expect(spec({ image: { user: "app" } }).process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 29, 44] })
  })
  it("is overridden by the task user, with its group memberships", () => {
    expect(spec({ image: { user: "app" }, nomad: { user: "nobody" } }).process.user).toEqual({
      uid: 65534, gid: 65534, additionalGids: [65534, 44]
    })
  })
  it.each([
    ["1000", { uid: 1000, gid: 1000, additionalGids: [1000, 29, 44] }],
    ["4242", { uid: 4242, gid: 0, additionalGids: [0] }],
    ["app:video", { uid: 1000, gid: 44, additionalGids: [29, 44] }],
    ["1000:5", { uid: 1000, gid: 5, additionalGids: [5, 29, 44] }]
  ])("resolves %s", (user, expected) => {
    expect(spec({ nomad: { user } }).process.user).toEqual(expected)
  })
  it.each([
    ["ghost", "UnknownUser"],
    ["app:ghosts", "UnknownGroup"],
    ["a:b:c", "InvalidUser"]
  ])("refuses %s", (user, reason) => {
    expect(failure({ nomad: { user } }).reason).toBe(reason)
  })
  it("says whether the task user or the image USER could not be resolved", () => {
    expect(failure({ nomad: { user: "ghost" } }).message).toMatch(/^task user "ghost": /)
    expect(failure({ image: { user: "ghost" } }).message).toMatch(/^image USER "ghost": /)
  })
})

describe("cgroupsPath", () => {
  const cgroup = "/sys/fs/cgroup/nomad.slice/share.slice/0b6a.web.scope"
  it("is /<namespace>/<container id> on cgroup v1 even when Nomad names a cgroup", () => {
    expect(spec({ nomad: withLinux({ cpuset_cgroup: "/sys/fs/cgroup/cpuset/nomad/share" }) }).linux.cgroupsPath).toBe(
      `/nomad/${containerId}`
    )
  })
  it("is Nomad's cgroup (relative to the cgroup root) on cgroup v2", () => {
    expect(spec({ nomad: withLinux({ cpuset_cgroup: cgroup }), host: { cgroupVersion: 2 }, driver: { namespace: "nomad.slice" } }).linux.cgroupsPath).toBe(
      "/nomad.slice/share.slice/0b6a.web.scope"
    )
  })
  it.each(["nomad.slice/share.slice/0b6a.web.scope", "/nomad.slice/share.slice/0b6a.web.scope"])(
    "takes a Nomad cgroup %j given relative to the cgroup root as it is, with a leading /",
    (relative) => {
      expect(spec({ nomad: withLinux({ cpuset_cgroup: relative }), host: { cgroupVersion: 2 } }).linux.cgroupsPath).toBe(
        "/nomad.slice/share.slice/0b6a.web.scope"
      )
    }
  )
  it("falls back to the namespaced path on cgroup v2 without one", () => {
    expect(spec({ host: { cgroupVersion: 2 }, driver: { namespace: "nomad.slice" } }).linux.cgroupsPath).toBe(
      `/nomad.slice/${containerId}`
    )
  })
})

describe("seccomp", () => {
  it("is off by default (as in the original)", () => {
    expect(spec().linux.seccomp).toBeUndefined()
  })
  it("applies containerd's default profile, computed from the final capabilities", () => {
    const plain = spec({ task: { seccomp: true } }).linux.seccomp
    expect(plain?.defaultAction).toBe("SCMP_ACT_ERRNO")
    expect(plain?.syscalls?.some((r) => r.names.includes("mount"))).toBe(false)
    const admin = spec({ task: { seccomp: true, cap_add: ["SYS_ADMIN"] } }).linux.seccomp
    expect(admin?.syscalls?.some((r) => r.names.includes("mount") && r.action === "SCMP_ACT_ALLOW")).toBe(true)
    expect(admin?.syscalls?.some((r) => r.names.includes("clone3") && r.action === "SCMP_ACT_ERRNO")).toBe(false)
  })
  it("still confines a privileged task", () => {
    expect(spec({ task: { privileged: true, seccomp: true } }).linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO")
  })
  it("refuses seccomp_profile without seccomp, in the original's words", () => {
    const error = failure({ task: { seccomp_profile: "/etc/profile.json" } })
    expect(error.reason).toBe("SeccompProfileWithoutSeccomp")
    expect(error.message).toBe("seccomp must be set to true, if using a custom seccomp_profile.")
  })
  it("uses the custom profile the caller read", () => {
    const profile = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["reboot"], action: "SCMP_ACT_ERRNO" }] }
    expect(spec({ task: { seccomp: true, seccomp_profile: "/p.json" }, host: { seccompProfile: profile } }).linux.seccomp).toEqual(profile)
  })
  it("needs the custom profile's contents", () => {
    const error = failure({ task: { seccomp: true, seccomp_profile: "/p.json" } })
    expect(error.reason).toBe("MissingHostFact")
    expect(error.message).toBe("the contents of seccomp_profile /p.json were not supplied")
  })
  it("keeps every action the runtime spec defines", () => {
    const actions = [
      "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",
      "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"
    ]
    const profile = {
      defaultAction: "SCMP_ACT_KILL_PROCESS",
      listenerPath: "/run/agent.sock",
      syscalls: actions.map((action, i) => ({ names: [`call${i}`], action }))
    }
    const seccomp = spec({ task: { seccomp: true, seccomp_profile: "/p.json" }, host: { seccompProfile: profile } }).linux.seccomp
    expect(seccomp?.syscalls?.map((r) => r.action)).toEqual(actions)
  })
  it.each([
    [{ defaultAction: "SCMP_ACT_EXPLODE" }, "\"defaultAction\" \"SCMP_ACT_EXPLODE\" is not a seccomp action; use one of SCMP_ACT_KILL,"],
    [{ defaultAction: "SCMP_ACT_NOTIFY" }, "\"defaultAction\" cannot be SCMP_ACT_NOTIFY"],
    [{ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "allow" }] }, "syscalls[0].action \"allow\" is not a seccomp action"],
    [
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] }] },
      "syscalls[0].args[0].index is 6; a system call argument index is 0 to 5"
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_SIMILAR" }] }] },
      "syscalls[0].args[0].op \"SCMP_CMP_SIMILAR\" is not a seccomp comparison"
    ]
  ])("refuses a profile the runtime cannot load: %j", (profile, message) => {
    const error = failure({ task: { seccomp: true, seccomp_profile: "/p.json" }, host: { seccompProfile: profile } })
    expect(error.reason).toBe("InvalidSeccompProfile")
    expect(error.message).toContain(`seccomp_profile /p.json is not a valid seccomp profile: ${message}`)
  })
  it("refuses an invalid custom profile with its path", () => {
    const error = failure({ task: { seccomp: true, seccomp_profile: "/p.json" }, host: { seccompProfile: { syscalls: [] } } })
    expect(error.reason).toBe("InvalidSeccompProfile")
    expect(error.message).toContain("/p.json")
  })
})

describe("runtime", () => {
  it("is the driver's containerd_runtime by default", () => {
    expect(build().runtime).toEqual({ name: "io.containerd.runc.v2" })
  })
  it("is the task's runtime when set, a dotted name being a shim used as given", () => {
    expect(build({ task: { runtime: "io.containerd.runsc.v1" } }).runtime).toEqual({ name: "io.containerd.runsc.v1" })
  })
  it("runs a dotless name as the runc v2 shim's binary, like docker --runtime", () => {
    expect(build({ task: { runtime: "runsc" } }).runtime).toEqual({ name: "io.containerd.runc.v2", binaryName: "runsc" })
    expect(build({ driver: { containerd_runtime: "crun" } }).runtime).toEqual({ name: "io.containerd.runc.v2", binaryName: "crun" })
  })
  it("takes an absolute shim path from the driver's containerd_runtime", () => {
    const shim = "/opt/shims/containerd-shim-kata-v2"
    expect(build({ driver: { containerd_runtime: shim } }).runtime).toEqual({ name: shim })
  })
  it("refuses a path as a task's runtime, since it would run a host file as root", () => {
    const error = failure({ task: { runtime: "/var/lib/nomad/alloc/x/web/local/shim" } })
    expect(error.reason).toBe("InvalidRuntime")
    expect(error.message).toContain("runtime \"/var/lib/nomad/alloc/x/web/local/shim\" is a path")
    expect(error.message).toContain("containerd_runtime")
  })
  it("refuses a relative path", () => {
    expect(failure({ driver: { containerd_runtime: "shims/kata" } }).message).toBe(
      "containerd_runtime \"shims/kata\" is neither a runtime name nor an absolute path of a shim binary"
    )
  })
  it("refuses a name with spaces", () => {
    const error = failure({ task: { runtime: "run c" } })
    expect(error.reason).toBe("InvalidRuntime")
    expect(error.message).toBe("runtime \"run c\" is not a containerd runtime name such as io.containerd.runc.v2")
  })
})

describe("host devices in the fixture", () => {
  it("include the entries the privileged test expects to be skipped", () => {
    expect(Object.keys(hostDevices)).toEqual(expect.arrayContaining(["/dev/console", "/dev/pts/0", "/dev/initctl"]))
  })
})

// An option written as "" (HCL's default for a string attribute left empty) means the option is not set.
// Found by mutation testing: the `!== ""` guards for these options survived being dropped (the WorkingDir one is
// also covered by the cwd option, which never lets an empty cwd through).
describe("options given as an empty string are unset", () => {
  it("an image WorkingDir of \"\" leaves the cwd at /", () => {
    expect(spec({ image: { workingDir: "" } }).process.cwd).toBe("/")
  })
  it("hostname \"\" keeps the container id as the hostname", () => {
    expect(spec({ task: { hostname: "" } }).hostname).toBe(containerId)
  })
  it("shm_size \"\" keeps containerd's /dev/shm", () => {
    expect(mountAt(spec({ task: { shm_size: "" } }), "/dev/shm")).toEqual(mountAt(spec(), "/dev/shm"))
  })
  it("seccomp_profile \"\" with seccomp = true uses the default profile", () => {
    expect(spec({ task: { seccomp: true, seccomp_profile: "" } }).linux.seccomp).toEqual(spec({ task: { seccomp: true } }).linux.seccomp)
  })
  it("pids_limit 0 sets no limit", () => {
    expect(spec({ task: { pids_limit: 0 } }).linux.resources?.pids).toBeUndefined()
  })
  it("cwd \"\" keeps the image WorkingDir", () => {
    expect(spec({ task: { cwd: "" }, image: { workingDir: "/srv" } }).process.cwd).toBe("/srv")
  })
  it("runtime \"\" uses the driver's containerd_runtime", () => {
    expect(build({ task: { runtime: "" }, driver: { containerd_runtime: "crun" } }).runtime).toEqual({
      name: "io.containerd.runc.v2", binaryName: "crun"
    })
  })
  it("cpuset_cpus \"\" keeps Nomad's reserved cores and cpuset_mems \"\" sets no memory nodes", () => {
    const cpu = spec({ task: { cpuset_cpus: "", cpuset_mems: "" }, nomad: withLinux({ cpuset_cpus: "0,1" }) }).linux.resources?.cpu
    expect(cpu).toEqual({ shares: 500, cpus: "0,1" })
  })
})
