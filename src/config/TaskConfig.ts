/**
 * The task options (`task { driver = "containerd-driver" config { ... } }`). Names, HCL types and
 * defaults are those of the original Go driver, so its jobs run unchanged; options marked "new"
 * are additions. Semantic checks that need more context (capability names, mount sources, ...)
 * happen when the runtime spec is built.
 */
import { Schema } from "effect"
import { invalidDurationMessage, parseGoDuration } from "./Duration.js"
import * as O from "./Options.js"

/** A positive Go duration; text Go cannot parse keeps the original driver's message. */
const GoDuration = (option: string, example: string) =>
  Schema.String.pipe(
    Schema.filter((s) => {
      const ms = parseGoDuration(s)
      if (ms === undefined) return `Failed to parse ${option}: ${invalidDurationMessage(s)}`
      return ms > 0 || `${option} ${JSON.stringify(s)} leaves no time; use a positive duration such as ${JSON.stringify(example)}`
    })
  )

export const taskOptions = {
  image: O.string({
    required: true,
    doc: "The image to run, e.g. `redis:7` or `registry.example.com/app@sha256:...`. A tag is checked with its registry at " +
      "every start (only missing layers are downloaded); a present digest-pinned image needs no registry."
  }),
  image_pull_timeout: O.string({
    default: "5m",
    check: GoDuration("image_pull_timeout", "5m"),
    doc: "Time limit for pulling and unpacking the image (Go duration)."
  }),
  force_pull: O.bool({
    default: false,
    doc: "New. Download every layer again, even those present, checking their digests (a tag is checked with the registry at every start anyway)."
  }),
  command: O.string({ doc: "Replaces the image's `CMD` (the image `ENTRYPOINT` is kept). Not with `entrypoint`." }),
  args: O.stringList({ doc: "Arguments appended to `command` or `entrypoint`; alone, they replace the image `CMD`." }),
  entrypoint: O.optionalStringList({ doc: "Replaces the image `ENTRYPOINT` and drops its `CMD`. `[\"\"]` runs `args` directly." }),
  cwd: O.string({ doc: "Working directory of the task; defaults to the image's `WorkingDir`, else `/`." }),
  privileged: O.bool({
    default: false,
    doc: "All capabilities of the driver process, all host devices, no masked paths. Needs `allow_privileged`."
  }),
  pids_limit: O.int({ doc: "Maximum number of processes in the container (applied when > 0)." }),
  pid_mode: O.string({ doc: "`host` shares the host's PID namespace; anything else is an error." }),
  hostname: O.string({ doc: "Hostname inside the container; defaults to the container id." }),
  host_dns: O.bool({
    default: true,
    doc: "Use the host's `/etc/resolv.conf`. Ignored when the group `network` block has a `dns` block."
  }),
  // No default sent to Nomad: an unset `seccomp` follows the node's `default_seccomp` (false, as in the original).
  seccomp: O.optionalBool({
    doc: "Confine the task with containerd's default seccomp profile (or `seccomp_profile`). When unset, the driver's " +
      "`default_seccomp` decides (default: not confined, as in the original)."
  }),
  seccomp_profile: O.string({
    doc: "Host path of a Docker-format seccomp profile (a JSON file of at most 1 MiB); needs `seccomp = true` (or " +
      "`seccomp` unset with the driver's `default_seccomp`)."
  }),
  shm_size: O.string({ doc: "Size of `/dev/shm`, e.g. `\"128M\"` (binary units); containerd's default is 64 MiB." }),
  sysctl: O.stringMap({
    doc: "Namespaced kernel parameters, e.g. `{ \"net.core.somaxconn\" = \"16384\" }`: `net.*` (not with `host_network`), " +
      "`fs.mqueue.*`, `kernel.domainname` and the IPC ones (`kernel.msgmax`, `msgmnb`, `msgmni`, `sem`, `shmall`, `shmmax`, " +
      "`shmmni`, `shm_rmid_forced`)."
  }),
  readonly_rootfs: O.bool({ default: false, doc: "Mount the container's root filesystem read-only." }),
  runtime: O.string({
    doc: "containerd runtime for this task: a shim name such as `io.containerd.runsc.v1`, or a runtime binary on the " +
      "node's `PATH` such as `runsc` (run by the runc v2 shim, like Docker's `--runtime`); defaults to the driver's `containerd_runtime`."
  }),
  host_network: O.bool({ default: false, doc: "Use the host's network namespace. Not with group `bridge` networking." }),
  extra_hosts: O.stringList({ doc: "Extra `/etc/hosts` entries as `\"name:IP\"`." }),
  cap_add: O.stringList({ doc: "Capabilities to add, e.g. `[\"CAP_SYS_ADMIN\"]` (the `CAP_` prefix and case are optional)." }),
  cap_drop: O.stringList({ doc: "Capabilities to drop; applied after `cap_add` and `privileged`, so it always wins." }),
  cpuset_cpus: O.string({ doc: "CPUs the task may run on, e.g. `\"0-2,4\"`; defaults to the cores Nomad reserved for it." }),
  cpuset_mems: O.string({ doc: "Memory (NUMA) nodes the task may use, e.g. `\"0\"`." }),
  devices: O.stringList({ doc: "Host device paths exposed at the same path with `rwm` access." }),
  auth: O.block({
    doc: "Registry credentials for this task's image; override the driver's `auth`.",
    options: {
      username: O.string({ required: true, doc: "Registry user name." }),
      password: O.string({ required: true, doc: "Registry password." })
    }
  }),
  mounts: O.blockList({
    doc: "Extra mounts, as blocks or `mounts = [{ ... }]`.",
    options: {
      type: O.string({ default: "volume", doc: "`bind`, `volume` (a bind mount) or `tmpfs`." }),
      target: O.string({ required: true, doc: "Path inside the container." }),
      source: O.string({ doc: "Host path; relative paths are resolved under the task's `local/`, `secrets/` or `alloc/`." }),
      options: O.stringList({ doc: "Mount options in fstab form, e.g. `[\"rbind\", \"ro\"]`; required for bind and volume." })
    }
  }),
  ulimit: O.stringMap({ doc: "New. Resource limits as `soft:hard` or one number, e.g. `{ nofile = \"65536:65536\" }`." }),
  cpu_hard_limit: O.bool({ default: false, doc: "New. Enforce the task's `cpu` as a hard CFS quota, as the Docker driver does." }),
  cpu_cfs_period: O.int({ doc: "New. CFS period in microseconds for `cpu_hard_limit` (default 100000)." })
} satisfies O.Options

export const TaskConfig = O.struct(taskOptions)
export type TaskConfig = typeof TaskConfig.Type
