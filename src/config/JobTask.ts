/**
 * Finds the task `containerd-driver spec` should show, in a job as a user has it: an HCL job file,
 * Nomad's JSON job form (`nomad job run -output`, or the API's), or just the task's `config` block.
 * Only the parts of the task that shape the runtime spec are kept.
 */
import { Either } from "effect"
import { type HclBlock, type HclBody, parseHcl } from "./Hcl.js"

export interface JobTask {
  readonly job: string
  readonly group: string
  readonly task: string
  /** The `config` block in the shape jobspec2 stores it. */
  readonly config: HclBody
  readonly env: Readonly<Record<string, string>>
  readonly user?: string
  readonly cpu: number
  readonly memoryMB: number
  readonly memoryMaxMB: number
  readonly networkMode?: string
  readonly dns?: { readonly servers: ReadonlyArray<string>; readonly searches: ReadonlyArray<string>; readonly options: ReadonlyArray<string> }
}

const driverName = "containerd-driver"

// Nomad's defaults for a task without a resources block.
const defaultCpu = 100
const defaultMemoryMB = 300

const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
const first = (v: unknown): Record<string, unknown> => asRecord(Array.isArray(v) ? v[0] : v)
const strings = (v: unknown): ReadonlyArray<string> => (Array.isArray(v) ? v.map(String) : [])
const stringMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(first(v)).map(([k, x]) => [k, String(x)]))

const pick = <T extends { readonly task: string; readonly driver: unknown }>(
  tasks: ReadonlyArray<T>,
  wanted: string | undefined
): Either.Either<T, string> => {
  const candidates = tasks.filter((t) => (wanted === undefined ? t.driver === driverName : t.task === wanted))
  if (candidates.length === 1) return Either.right(candidates[0]!)
  if (candidates.length === 0) {
    return Either.left(
      wanted === undefined
        ? `no task with driver = "${driverName}" in the job`
        : `no task named ${JSON.stringify(wanted)} in the job (tasks: ${tasks.map((t) => t.task).join(", ")})`
    )
  }
  return Either.left(`several ${driverName} tasks (${candidates.map((t) => t.task).join(", ")}): choose one with --task`)
}

const fromHcl = (root: HclBlock, wanted: string | undefined): Either.Either<JobTask, string> => {
  const jobs = root.blocks.filter((b) => b.type === "job")
  if (jobs.length === 0) {
    // Just a config block's body (or a file holding `config { ... }`).
    const config = root.blocks.length === 1 && root.blocks[0]!.type === "config" ? root.blocks[0]!.body : root.body
    return Either.right({ job: "", group: "", task: "", config, env: {}, cpu: defaultCpu, memoryMB: defaultMemoryMB, memoryMaxMB: 0 })
  }
  const tasks = jobs.flatMap((job) =>
    job.blocks.filter((g) => g.type === "group").flatMap((group) =>
      group.blocks.filter((t) => t.type === "task").map((task) => ({ job, group, block: task, task: task.labels[0] ?? "", driver: task.body["driver"] }))
    )
  )
  return Either.map(pick(tasks, wanted), ({ block, group, job, task }) => {
    const resources = first(block.body["resources"])
    const network = first(group.body["network"])
    const dns = network["dns"] === undefined ? undefined : first(network["dns"])
    return {
      job: job.labels[0] ?? "",
      group: group.labels[0] ?? "",
      task,
      config: first(block.body["config"]) as HclBody,
      env: stringMap(block.body["env"]),
      ...(typeof block.body["user"] === "string" ? { user: block.body["user"] } : {}),
      cpu: Number(resources["cpu"] ?? defaultCpu),
      memoryMB: Number(resources["memory"] ?? defaultMemoryMB),
      memoryMaxMB: Number(resources["memory_max"] ?? 0),
      ...(typeof network["mode"] === "string" ? { networkMode: network["mode"] } : {}),
      ...(dns === undefined
        ? {}
        : { dns: { servers: strings(dns["servers"]), searches: strings(dns["searches"]), options: strings(dns["options"]) } })
    }
  })
}

/** Nomad's JSON job form: `{"Job": {...}}` or the job object itself, with TaskGroups[].Tasks[]. */
const fromJson = (json: Record<string, unknown>, wanted: string | undefined): Either.Either<JobTask, string> => {
  const job = asRecord(json["Job"] ?? json)
  if (!Array.isArray(job["TaskGroups"])) {
    return Either.right({ job: "", group: "", task: "", config: job as HclBody, env: {}, cpu: defaultCpu, memoryMB: defaultMemoryMB, memoryMaxMB: 0 })
  }
  const tasks = (job["TaskGroups"] as Array<unknown>).flatMap((g) => {
    const group = asRecord(g)
    return (Array.isArray(group["Tasks"]) ? group["Tasks"] : []).map((t) => {
      const task = asRecord(t)
      return { group, value: task, task: String(task["Name"] ?? ""), driver: task["Driver"] }
    })
  })
  return Either.map(pick(tasks, wanted), ({ group, task, value }) => {
    const resources = asRecord(value["Resources"])
    const network = first(group["Networks"])
    const dns = network["DNS"] === undefined || network["DNS"] === null ? undefined : asRecord(network["DNS"])
    return {
      job: String(job["ID"] ?? job["Name"] ?? ""),
      group: String(group["Name"] ?? ""),
      task,
      config: asRecord(value["Config"]) as HclBody,
      env: stringMap(value["Env"]),
      ...(typeof value["User"] === "string" && value["User"] !== "" ? { user: value["User"] } : {}),
      cpu: Number(resources["CPU"] ?? defaultCpu),
      memoryMB: Number(resources["MemoryMB"] ?? defaultMemoryMB),
      memoryMaxMB: Number(resources["MemoryMaxMB"] ?? 0),
      ...(typeof network["Mode"] === "string" && network["Mode"] !== "" ? { networkMode: network["Mode"] } : {}),
      ...(dns === undefined
        ? {}
        : { dns: { servers: strings(dns["Servers"]), searches: strings(dns["Searches"]), options: strings(dns["Options"]) } })
    }
  })
}

/** JSON.parse turns a number beyond float64 into ±Infinity, which would then vanish; Nomad's JSON decoder refuses it. */
const finiteNumbers = (key: string, value: unknown): unknown => {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`${JSON.stringify(key)} holds a number beyond the largest a Nomad job can hold (about 1.8e308)`)
  }
  return value
}

/** Reads a job file's text (HCL or JSON) and picks the task (`wanted`, else the one containerd-driver task). */
export const readJobTask = (text: string, wanted?: string): Either.Either<JobTask, string> => {
  const trimmed = text.trimStart()
  if (trimmed.startsWith("{")) {
    return Either.try({ try: () => JSON.parse(text, finiteNumbers) as unknown, catch: (e) => `invalid JSON: ${(e as Error).message}` }).pipe(
      Either.flatMap((json) => fromJson(asRecord(json), wanted))
    )
  }
  return Either.flatMap(parseHcl(text), (root) => fromHcl(root, wanted))
}
