import { describe, expect, it } from "vitest"
import { interpolate, nomadTaskEnv } from "../../src/config/NomadClient.js"
import { containerId } from "../../src/task/TaskIdentity.js"

describe("task identity", () => {
  it("names containers as the original driver did, per cgroup version", () => {
    expect(containerId(1, "a1b2", "redis")).toBe("redis-a1b2")
    expect(containerId(2, "a1b2", "redis")).toBe("a1b2.redis.scope")
  })

  it("interpolates ${NAME} and ${env[\"NAME\"]} from the task env, leaving unknown references", () => {
    const env = { NOMAD_TASK_DIR: "/local", PORT: "8080" }
    expect(interpolate({ a: ["${NOMAD_TASK_DIR}/x", "${env[\"PORT\"]}"], b: "${attr.kernel.name}", c: 5 }, env)).toEqual({
      a: ["/local/x", "8080"],
      b: "${attr.kernel.name}",
      c: 5
    })
  })

  it("gives the task Nomad's environment with the job's env over it", () => {
    const env = nomadTaskEnv({ job: "j", group: "g", task: "t", allocId: "x", cpu: 100, memoryMB: 64, memoryMaxMB: 0, env: { NOMAD_DC: "eu" } })
    expect(env).toMatchObject({ NOMAD_TASK_NAME: "t", NOMAD_ALLOC_NAME: "j.g[0]", NOMAD_MEMORY_LIMIT: "64", NOMAD_DC: "eu", NOMAD_TASK_DIR: "/local" })
    expect("NOMAD_MEMORY_MAX_LIMIT" in env).toBe(false)
  })
})
