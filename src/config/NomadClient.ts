/**
 * What a Nomad client does to a task before a driver sees it, for commands that show a task without
 * a Nomad agent: the task environment, and `${...}` interpolation of the job's config.
 */

/** The environment a Nomad client builds for a task of a driver with image isolation (the common part). */
export const nomadTaskEnv = (t: {
  readonly job: string
  readonly group: string
  readonly task: string
  readonly allocId: string
  readonly cpu: number
  readonly memoryMB: number
  readonly memoryMaxMB: number
  readonly env: Readonly<Record<string, string>>
}): Record<string, string> => ({
  NOMAD_ALLOC_DIR: "/alloc",
  NOMAD_TASK_DIR: "/local",
  NOMAD_SECRETS_DIR: "/secrets",
  NOMAD_ALLOC_ID: t.allocId,
  NOMAD_ALLOC_NAME: `${t.job}.${t.group}[0]`,
  NOMAD_ALLOC_INDEX: "0",
  NOMAD_JOB_ID: t.job,
  NOMAD_JOB_NAME: t.job,
  NOMAD_GROUP_NAME: t.group,
  NOMAD_TASK_NAME: t.task,
  NOMAD_NAMESPACE: "default",
  NOMAD_REGION: "global",
  NOMAD_DC: "dc1",
  NOMAD_CPU_LIMIT: String(t.cpu),
  NOMAD_MEMORY_LIMIT: String(t.memoryMB),
  ...(t.memoryMaxMB > 0 ? { NOMAD_MEMORY_MAX_LIMIT: String(t.memoryMaxMB) } : {}),
  ...t.env
})

const reference = /\$\{\s*(?:env\[\s*"([^"]+)"\s*\]|([A-Za-z_][A-Za-z0-9_.-]*))\s*\}/g

/**
 * Replaces `${NAME}` and `${env["NAME"]}` in every string of a config value with the task's env, as
 * the Nomad client does before the driver sees the config; unknown references stay as they are.
 */
export const interpolate = (value: unknown, env: Readonly<Record<string, string>>): unknown => {
  if (typeof value === "string") {
    return value.replace(reference, (whole, quoted: string | undefined, bare: string | undefined) => env[quoted ?? bare ?? ""] ?? whole)
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]))
  }
  return value
}
