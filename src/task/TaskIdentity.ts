/**
 * How a Nomad task maps onto containerd: its container id and snapshot key (the original driver's naming, kept
 * so containers stay recognisable and recoverable), the labels that tie a container back to its allocation and
 * mark the images pulled for tasks, and where the driver keeps the files it generates for the task.
 */
import { createHash } from "node:crypto"
import { matchesAny } from "../policy/Glob.js"

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

/** The Nomad identifiers a container can be labelled with (`com.hashicorp.nomad.<name>`), the Docker driver's names. */
export const labelIdentifiers = [
  "job_name",
  "job_id",
  "parent_job_id",
  "task_group_name",
  "task_name",
  "namespace",
  "node_name",
  "node_id"
] as const

/** The identifiers labelled when `extra_labels` is not set: every one this driver labelled before the option existed. */
export const defaultExtraLabels: ReadonlyArray<string> = labelIdentifiers.filter((name) => name !== "parent_job_id")

/**
 * A container's labels: the allocation and the owning task attempt always (the reaper and DestroyTask go by them),
 * and the identifiers `extraLabels` names (globs over labelIdentifiers); empty values are left out.
 */
export const containerLabels = (task: {
  readonly id: string
  readonly allocId: string
  readonly jobId: string
  readonly jobName: string
  readonly parentJobId: string
  readonly namespace: string
  readonly nodeId: string
  readonly nodeName: string
  readonly taskGroupName: string
  readonly name: string
}, extraLabels: ReadonlyArray<string> = defaultExtraLabels): Record<string, string> => {
  const values: Record<(typeof labelIdentifiers)[number], string> = {
    job_name: task.jobName,
    job_id: task.jobId,
    parent_job_id: task.parentJobId,
    task_group_name: task.taskGroupName,
    task_name: task.name,
    namespace: task.namespace,
    node_name: task.nodeName,
    node_id: task.nodeId
  }
  const labels: Record<string, string> = { "com.hashicorp.nomad.alloc_id": task.allocId }
  for (const name of labelIdentifiers) {
    if (matchesAny(extraLabels, name)) labels[`com.hashicorp.nomad.${name}`] = values[name]
  }
  labels[taskIdLabel] = task.id
  return Object.fromEntries(Object.entries(labels).filter(([, value]) => value !== ""))
}

/**
 * Label on the lease of a start in progress naming its container: a retried start removes the lease of one that
 * died, and the reaper leaves a container alone while its start is in progress.
 */
export const leaseContainerLabel = "containerd-driver.container"

/**
 * Label on an image record the driver pulled for a task (not on images found present, e.g. pulled with `ctr`):
 * the image GC removes only these.
 */
export const pulledForTaskLabel = "containerd-driver.pulled-for-task"

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
