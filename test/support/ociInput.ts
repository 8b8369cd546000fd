/**
 * Builders for src/oci spec inputs: a valid baseline (busybox-like image, ordinary Nomad task, a host with every
 * capability) that tests override piecewise.
 */
import { Either } from "effect"
import { knownCapabilities } from "../../src/oci/Capabilities.js"
import type { RuntimeSpec } from "../../src/oci/RuntimeSpec.js"
import { buildSpec, type SpecResult } from "../../src/oci/Spec.js"
import type { SpecError } from "../../src/oci/SpecError.js"
import type {
  DriverSpecConfig,
  HostDeviceNode,
  HostFacts,
  ImageInput,
  NomadTask,
  SpecInput,
  TaskConfig
} from "../../src/oci/SpecInput.js"

export const allocId = "0b6a1c2e-5d4f-4e3a-9b8c-7d6e5f4a3b2c"
export const allocDir = `/var/lib/nomad/alloc/${allocId}`
export const containerId = `web-${allocId}`

export const baseTask = (overrides: Partial<TaskConfig> = {}): TaskConfig => ({
  image: "docker.io/library/busybox:latest",
  image_pull_timeout: "5m",
  force_pull: false,
  args: [],
  privileged: false,
  host_dns: true,
  seccomp: false,
  sysctl: {},
  readonly_rootfs: false,
  host_network: false,
  extra_hosts: [],
  cap_add: [],
  cap_drop: [],
  devices: [],
  mounts: [],
  ulimit: {},
  cpu_hard_limit: false,
  ...overrides
})

export const baseNomad = (overrides: Partial<NomadTask> = {}): NomadTask => ({
  id: `${allocId}/web/3f2a1b0c`,
  name: "web",
  alloc_id: allocId,
  env: {
    NOMAD_ALLOC_DIR: "/alloc",
    NOMAD_TASK_DIR: "/local",
    NOMAD_SECRETS_DIR: "/secrets",
    NOMAD_TASK_NAME: "web",
    PATH: "/host/path/should/not/leak"
  },
  user: "",
  alloc_dir: allocDir,
  resources: {
    cpu_shares: 500,
    memory_mb: 256,
    memory_max_mb: 0,
    linux: {
      cpu_shares: 500,
      memory_limit_bytes: 256 * 1024 * 1024,
      cpuset_cpus: "",
      cpuset_cgroup: "",
      cpu_period: 0,
      cpu_quota: 0,
      PercentTicks: 0.0625
    }
  },
  mounts: [],
  devices: [],
  ...overrides
})

export const busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
  "app:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
export const busyboxGroup = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\napp:x:1000:\naudio:x:29:app\n" +
  "video:x:44:app,nobody\nnogroup:x:65534:\n"

export const baseImage = (overrides: Partial<ImageInput["config"]> = {}): ImageInput => ({
  config: { env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], cmd: ["sh"], ...overrides },
  passwd: busyboxPasswd,
  group: busyboxGroup
})

const chr = (major: number, minor: number, fileMode = 0o666): HostDeviceNode => ({
  type: "c",
  major,
  minor,
  fileMode,
  uid: 0,
  gid: 0
})

export const hostDevices: Readonly<Record<string, HostDeviceNode>> = {
  "/dev/null": chr(1, 3),
  "/dev/zero": chr(1, 5),
  "/dev/fuse": chr(10, 229),
  "/dev/console": chr(5, 1, 0o600),
  "/dev/pts/0": chr(136, 0, 0o620),
  "/dev/net/tun": chr(10, 200),
  "/dev/nvidia0": chr(195, 0),
  "/dev/sda": { type: "b", major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
  "/dev/initctl": { type: "p", major: 0, minor: 0, fileMode: 0o600, uid: 0, gid: 0 }
}

export const baseHost = (overrides: Partial<HostFacts> = {}): HostFacts => ({
  capabilities: knownCapabilities,
  cgroupVersion: 1,
  cpuCount: 4,
  arch: "amd64",
  kernelRelease: "6.1.0-18-amd64",
  hostDevices,
  hostResolvConf: "nameserver 10.0.0.2\nsearch example.internal\n",
  hostHosts: "127.0.0.1\tlocalhost\n10.0.0.5\tnode1\n",
  ...overrides
})

export const baseDriver = (overrides: Partial<DriverSpecConfig> = {}): DriverSpecConfig => ({
  allow_privileged: true,
  containerd_runtime: "io.containerd.runc.v2",
  namespace: "nomad",
  ...overrides
})

export interface InputOverrides {
  readonly task?: Partial<TaskConfig>
  readonly nomad?: Partial<NomadTask>
  readonly image?: Partial<ImageInput["config"]>
  readonly imageFiles?: { readonly passwd?: string; readonly group?: string }
  readonly host?: Partial<HostFacts>
  readonly driver?: Partial<DriverSpecConfig>
  readonly containerId?: string
}

export const generatedDir = `/var/lib/nomad/containerd-driver/${allocId}/web`

export const specInput = (o: InputOverrides = {}): SpecInput => {
  const image = baseImage(o.image)
  return {
    driver: baseDriver(o.driver),
    task: baseTask(o.task),
    nomad: baseNomad(o.nomad),
    image: o.imageFiles === undefined ? image : { config: image.config, ...o.imageFiles },
    host: baseHost(o.host),
    containerId: o.containerId ?? containerId,
    generatedDir
  }
}

/** The result, failing the test with the SpecError message when building fails. */
export const build = (o: InputOverrides = {}): SpecResult => {
  const result = buildSpec(specInput(o))
  if (Either.isLeft(result)) throw new Error(`unexpected SpecError ${result.left.reason}: ${result.left.message}`)
  return result.right
}

export const spec = (o: InputOverrides = {}): RuntimeSpec => build(o).spec

/** The SpecError, failing the test when building succeeds. */
export const failure = (o: InputOverrides = {}): SpecError => {
  const result = buildSpec(specInput(o))
  if (Either.isRight(result)) throw new Error("expected a SpecError, got a spec")
  return result.left
}
