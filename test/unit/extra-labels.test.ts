/**
 * `extra_labels` (src/task/TaskIdentity.ts containerLabels): which Nomad identifiers label a container. The
 * allocation and the owning task attempt are always labelled (the reaper and DestroyTask go by them); by default
 * every identifier the driver labelled before the option existed; globs pick others, as the Docker driver's option.
 */
import { describe, expect, it } from "@effect/vitest"
import { containerLabels, defaultExtraLabels } from "../../src/task/TaskIdentity.js"

const task = {
  id: "alloc-1/web/0a1b2c3d",
  allocId: "alloc-1",
  jobId: "shop/periodic-1700000000",
  jobName: "shop",
  parentJobId: "shop/periodic",
  namespace: "team-a",
  nodeId: "node-id",
  nodeName: "node-1",
  taskGroupName: "front",
  name: "web"
}

describe("container labels", () => {
  it("by default: the allocation, the task attempt and every identifier but parent_job_id", () => {
    const byDefault = {
      "com.hashicorp.nomad.alloc_id": "alloc-1",
      "com.hashicorp.nomad.job_name": "shop",
      "com.hashicorp.nomad.job_id": "shop/periodic-1700000000",
      "com.hashicorp.nomad.task_group_name": "front",
      "com.hashicorp.nomad.task_name": "web",
      "com.hashicorp.nomad.namespace": "team-a",
      "com.hashicorp.nomad.node_name": "node-1",
      "com.hashicorp.nomad.node_id": "node-id",
      "containerd-driver.task_id": "alloc-1/web/0a1b2c3d"
    }
    expect(containerLabels(task)).toEqual(byDefault)
    // The extra_labels option's default (the plugin config's) gives the same.
    expect(containerLabels(task, defaultExtraLabels)).toEqual(byDefault)
  })

  it("with extra_labels: only the identifiers the globs name, beside the two always set", () => {
    expect(containerLabels(task, ["job_*"])).toEqual({
      "com.hashicorp.nomad.alloc_id": "alloc-1",
      "com.hashicorp.nomad.job_name": "shop",
      "com.hashicorp.nomad.job_id": "shop/periodic-1700000000",
      "containerd-driver.task_id": "alloc-1/web/0a1b2c3d"
    })
    expect(Object.keys(containerLabels(task, ["*"]))).toContain("com.hashicorp.nomad.parent_job_id")
    expect(Object.keys(containerLabels(task, []))).toEqual(["com.hashicorp.nomad.alloc_id", "containerd-driver.task_id"])
  })

  it("leaves out identifiers Nomad sent empty", () => {
    expect(Object.keys(containerLabels({ ...task, parentJobId: "" }, ["parent_job_id"]))).not.toContain("com.hashicorp.nomad.parent_job_id")
  })
})
