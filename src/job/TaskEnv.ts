/**
 * The environment a Nomad client gives a task of an image-isolation driver (Nomad's client/taskenv): the
 * `NOMAD_*` identity and resource variables, the group's ports (`NOMAD_PORT_<label>` is the port inside the
 * network namespace in bridge mode, `NOMAD_HOST_PORT_<label>` the host's), the allocation's address in bridge
 * mode, `NOMAD_META_*` from job, group and task meta, then the task's `env` (interpolated with the rest) and the
 * variables templates with `env = true` rendered. Also the node attributes a job's `${node.*}`/`${attr.*}` name.
 */
import { interpolate } from "../config/NomadClient.js"
import type { Group, Job, Task } from "./Job.js"

export interface AllocatedPort {
  readonly label: string
  /** The host port. */
  readonly value: number
  /** The port in the group's namespace (bridge), or the host port. */
  readonly to: number
}

export interface AllocInfo {
  readonly id: string
  readonly index: number
  readonly ports: ReadonlyArray<AllocatedPort>
  /** The host address ports are reachable at. */
  readonly hostIp: string
  /** The allocation's address and interface in its bridge network, once known. */
  readonly bridge?: { readonly address: string; readonly interfaceName: string }
}

export interface NodeInfo {
  readonly id: string
  readonly name: string
  readonly datacenter: string
  readonly arch: string
  readonly kernelVersion: string
}

/** `node.*`, `attr.*` as the client offers them to interpolation. */
export const nodeAttributes = (job: Job, node: NodeInfo): Record<string, string> => ({
  "node.unique.id": node.id,
  "node.unique.name": node.name,
  "node.datacenter": node.datacenter,
  "node.region": job.region,
  "node.class": "",
  "node.pool": "default",
  "attr.kernel.name": "linux",
  "attr.kernel.version": node.kernelVersion,
  "attr.cpu.arch": node.arch,
  "attr.unique.hostname": node.name,
  "attr.os.name": "linux",
  "attr.driver.containerd-driver": "1"
})

const joinHostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`)

/** Nomad's CleanEnvVar: anything but letters, digits and underscore becomes an underscore. */
const clean = (key: string) => key.replace(/[^A-Za-z0-9_]/g, "_")

export const taskEnv = (
  job: Job,
  group: Group,
  task: Task,
  alloc: AllocInfo,
  node: NodeInfo,
  templateEnv: Readonly<Record<string, string>> = {}
): Record<string, string> => {
  const env: Record<string, string> = {
    NOMAD_ALLOC_DIR: "/alloc",
    NOMAD_TASK_DIR: "/local",
    NOMAD_SECRETS_DIR: "/secrets",
    NOMAD_MEMORY_LIMIT: String(task.resources.memoryMB),
    NOMAD_CPU_LIMIT: String(task.resources.cpu),
    NOMAD_ALLOC_ID: alloc.id,
    NOMAD_SHORT_ALLOC_ID: alloc.id.slice(0, 8),
    NOMAD_ALLOC_NAME: `${job.name}.${group.name}[${alloc.index}]`,
    NOMAD_GROUP_NAME: group.name,
    NOMAD_ALLOC_INDEX: String(alloc.index),
    NOMAD_TASK_NAME: task.name,
    NOMAD_JOB_ID: job.id,
    NOMAD_JOB_NAME: job.name,
    NOMAD_DC: node.datacenter,
    NOMAD_NAMESPACE: job.namespace,
    NOMAD_REGION: job.region
  }
  if (task.resources.memoryMaxMB > 0) env["NOMAD_MEMORY_MAX_LIMIT"] = String(task.resources.memoryMaxMB)
  for (const p of alloc.ports) {
    const host = joinHostPort(alloc.hostIp, p.value)
    env[clean(`NOMAD_ADDR_${p.label}`)] = host
    env[`NOMAD_HOST_ADDR_${p.label}`] = host
    env[clean(`NOMAD_IP_${p.label}`)] = alloc.hostIp
    env[`NOMAD_HOST_IP_${p.label}`] = alloc.hostIp
    env[clean(`NOMAD_PORT_${p.label}`)] = String(p.to)
    env[`NOMAD_ALLOC_PORT_${p.label}`] = String(p.to)
    env[clean(`NOMAD_HOST_PORT_${p.label}`)] = String(p.value)
    if (alloc.bridge !== undefined) {
      env[`NOMAD_ALLOC_INTERFACE_${p.label}`] = alloc.bridge.interfaceName
      env[`NOMAD_ALLOC_IP_${p.label}`] = alloc.bridge.address
      env[`NOMAD_ALLOC_ADDR_${p.label}`] = joinHostPort(alloc.bridge.address, p.to)
    }
  }
  const attributes = nodeAttributes(job, node)
  // Meta: the task's over the group's over the job's, each under its own name and upper-cased.
  for (const [k, v] of Object.entries({ ...job.meta, ...group.meta, ...task.meta })) {
    const value = interpolate(v, { ...attributes, ...env }) as string
    env[clean(`NOMAD_META_${k}`)] = value
    env[clean(`NOMAD_META_${k.toUpperCase()}`)] = value
  }
  for (const [k, v] of Object.entries(task.env)) env[k] = interpolate(v, { ...attributes, ...env }) as string
  return { ...env, ...templateEnv }
}
