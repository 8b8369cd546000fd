/**
 * How a Nomad task maps onto containerd: its container id and snapshot key (the original driver's naming, kept
 * so containers stay recognisable and recoverable), the labels that tie a container back to its allocation,
 * and where the driver keeps the files it generates for the task.
 */
import { createHash } from "node:crypto"

/** containerd's identifier rule (container and exec ids, namespaces), and its length limit. */
export const identifierPattern = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/
export const maxIdentifierLength = 76

/**
 * The original's ids: cgroup v1 `<task>-<alloc>` (the Docker driver's convention), cgroup v2
 * `<alloc>.<task>.scope`. A task name that would make an id containerd refuses (characters outside its rule,
 * or too long) gets a sanitised id with a short hash of the original, so distinct tasks never share one.
 */
export const containerId = (cgroupVersion: 1 | 2, allocId: string, taskName: string): string => {
  const id = cgroupVersion === 2 ? `${allocId}.${taskName}.scope` : `${taskName}-${allocId}`
  if (identifierPattern.test(id) && id.length <= maxIdentifierLength) return id
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 8)
  const sanitised = id.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
  return `${sanitised.slice(0, maxIdentifierLength - hash.length - 1).replace(/-+$/, "")}-${hash}`
}

/** The active snapshot holding a container's root filesystem (the original's name). */
export const snapshotKey = (containerId: string): string => `${containerId}-snapshot`

/** Label on the driver's containers naming the Nomad task id that owns them (a new id per start attempt). */
export const taskIdLabel = "containerd-driver.task_id"

/** The Nomad identifiers a container is labelled with (the Docker driver's label names), empty ones left out. */
export const containerLabels = (task: {
  readonly id: string
  readonly allocId: string
  readonly jobId: string
  readonly jobName: string
  readonly namespace: string
  readonly nodeId: string
  readonly nodeName: string
  readonly taskGroupName: string
  readonly name: string
}): Record<string, string> => {
  const labels: Record<string, string> = {
    "com.hashicorp.nomad.alloc_id": task.allocId,
    "com.hashicorp.nomad.job_id": task.jobId,
    "com.hashicorp.nomad.job_name": task.jobName,
    "com.hashicorp.nomad.namespace": task.namespace,
    "com.hashicorp.nomad.node_id": task.nodeId,
    "com.hashicorp.nomad.node_name": task.nodeName,
    "com.hashicorp.nomad.task_group_name": task.taskGroupName,
    "com.hashicorp.nomad.task_name": task.name,
    [taskIdLabel]: task.id
  }
  return Object.fromEntries(Object.entries(labels).filter(([, value]) => value !== ""))
}

/**
 * The host directory of the files the driver generates for a task (hosts, resolv.conf): inside the task's
 * directory, so Nomad's alloc GC removes it too, but outside `local/`, `secrets/` and `alloc/`, the only parts
 * of it mounted into the container.
 */
export const generatedDir = (allocDir: string, taskName: string): string => `${allocDir}/${taskName}/containerd-driver`

/**
 * Label on a container naming its generated-files directory: DestroyTask of a task whose recovery failed has
 * only the container to go by.
 */
export const generatedDirLabel = "containerd-driver.generated_dir"

/** Whether `dir` is a directory `generatedDir` names (a label is no reason to remove anything else). */
export const isGeneratedDir = (dir: string): boolean => dir.startsWith("/") && dir.endsWith("/containerd-driver")
