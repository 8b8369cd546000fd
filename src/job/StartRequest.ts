/**
 * The TaskConfig message a Nomad client sends with StartTask (proto/plugins/drivers/proto/driver.proto; filled by
 * hashicorp/nomad client/allocrunner/taskrunner/task_runner.go buildTaskConfig) for one start attempt of a task: a
 * new id each time, the task's environment and resources, its allocation and log FIFOs, host volume mounts, and
 * the group's network namespace and DNS in bridge mode.
 */
import {
  type Mount,
  NetworkIsolationSpec_NetworkIsolationMode,
  type TaskConfig
} from "../gen/plugins/drivers/proto/driver.js"
import type { Dns, Resources } from "./Job.js"
import type { AllocatedPort } from "./TaskEnv.js"

export interface StartRequest {
  /** `<alloc id>/<task>/<8 random characters>`. */
  readonly id: string
  readonly job: { readonly id: string; readonly name: string; readonly namespace: string }
  readonly group: string
  readonly task: string
  readonly allocId: string
  readonly allocDir: string
  readonly env: Readonly<Record<string, string>>
  readonly user: string
  readonly resources: Resources
  /** The node's usable compute in MHz, for PercentTicks. */
  readonly nodeCompute: number
  readonly config: Uint8Array
  readonly stdoutPath: string
  readonly stderrPath: string
  readonly mounts: ReadonlyArray<Mount>
  readonly ports: ReadonlyArray<AllocatedPort & { readonly hostIp: string }>
  readonly network: { readonly path: string; readonly hostname?: string; readonly address?: string } | undefined
  readonly dns: Dns | undefined
  readonly node: { readonly id: string; readonly name: string }
}

export const taskConfigMessage = (r: StartRequest): TaskConfig => ({
  id: r.id,
  name: r.task,
  msgpackDriverConfig: Buffer.from(r.config),
  env: { ...r.env },
  deviceEnv: {},
  resources: {
    allocatedResources: {
      cpu: { cpuShares: BigInt(r.resources.cpu) },
      memory: { memoryMb: BigInt(r.resources.memoryMB), memoryMaxMb: BigInt(r.resources.memoryMaxMB) },
      networks: []
    },
    linuxResources: {
      cpuPeriod: 0n,
      cpuQuota: 0n,
      cpuShares: BigInt(r.resources.cpu),
      memoryLimitBytes: BigInt(Math.max(r.resources.memoryMB, r.resources.memoryMaxMB) * 2 ** 20),
      oomScoreAdj: 0n,
      cpusetCpus: "",
      PercentTicks: r.resources.cpu / r.nodeCompute,
      cpusetCgroup: ""
    },
    ports: r.ports.map((p) => ({ label: p.label, value: p.value, to: p.to, hostIp: p.hostIp }))
  },
  mounts: [...r.mounts],
  devices: [],
  user: r.user,
  allocDir: r.allocDir,
  stdoutPath: r.stdoutPath,
  stderrPath: r.stderrPath,
  taskGroupName: r.group,
  jobName: r.job.name,
  allocId: r.allocId,
  networkIsolationSpec: r.network === undefined
    ? undefined
    : {
      mode: NetworkIsolationSpec_NetworkIsolationMode.GROUP,
      path: r.network.path,
      labels: {},
      hostsConfig: r.network.hostname === undefined ? undefined : { hostname: r.network.hostname, address: r.network.address ?? "" }
    },
  dns: r.dns === undefined ? undefined : { servers: [...r.dns.servers], searches: [...r.dns.searches], options: [...r.dns.options] },
  jobId: r.job.id,
  namespace: r.job.namespace,
  nodeName: r.node.name,
  nodeId: r.node.id,
  parentJobId: ""
})
