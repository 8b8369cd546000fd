// A task's life through the built plugin, launched as Nomad launches it, on the real containerd with the loopback
// test registry: the test plays the Nomad client (alloc and task dirs, logmon's FIFOs, the task config encoded as
// Nomad encodes it, the handle kept between calls). Exit results, log routing, how StopTask ends a task (kill
// signal, the image's STOPSIGNAL, escalation at the timeout, long timeouts), OOM kills, restarts of a task in its
// allocation, and the InspectTask fields Nomad dereferences.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TaskState } from "../../src/gen/plugins/drivers/proto/driver.js"
import { type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const multilayer = `${integrationEnv.registry}/test/multilayer:latest`

/** Go's zero time, what Nomad expects as the completion time of a running task. */
const goZeroTime = new Date(-62135596800000)

/**
 * A shell task that reports each signal in `handlers` on stdout and then runs the handler's command, says `ready`
 * once its traps are set, and otherwise idles. (A pid-1 process without a handler ignores SIGTERM and SIGINT.)
 */
const trapping = (handlers: Record<string, string>) =>
  [
    ...Object.entries(handlers).map(([signal, then]) => `trap "echo got SIG${signal}; ${then}" ${signal};`),
    "echo ready; while true; do sleep 1 & wait $!; done"
  ].join(" ")

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-life", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

/** Resolves with how long `call` took, in milliseconds. */
const timed = async (call: Promise<unknown>): Promise<number> => {
  const started = Date.now()
  await call
  return Date.now() - started
}

describe.concurrent("a task's life on containerd", () => {
  it("exits with its code, reported to every WaitTask, with stdout and stderr in their own FIFOs", async () => {
    const [failing, succeeding] = await Promise.all([
      h.start({ config: { image: busybox, command: "sh", args: ["-c", "echo to-stdout; echo to-stderr >&2; exit 3"] } }),
      h.start({ config: { image: busybox, command: "true" } })
    ])
    const waits = await Promise.all([h.driver().wait(failing.id), h.driver().wait(failing.id), h.driver().wait(succeeding.id)])
    expect(waits.map((w) => w.result)).toEqual([
      { exitCode: 3, signal: 0, oomKilled: false },
      { exitCode: 3, signal: 0, oomKilled: false },
      { exitCode: 0, signal: 0, oomKilled: false }
    ])
    expect(waits.map((w) => w.err)).toEqual(["", "", ""])
    // Asked again after the exit, WaitTask answers the stored result.
    expect((await h.driver().wait(failing.id)).result.exitCode).toBe(3)
    await failing.dirs.stdout.waitFor((text) => text.includes("to-stdout\n"))
    await failing.dirs.stderr.waitFor((text) => text.includes("to-stderr\n"))
    expect(failing.dirs.stdout.text()).toBe("to-stdout\n")
    expect(failing.dirs.stderr.text()).toBe("to-stderr\n")
    await Promise.all([h.driver().destroy(failing.id), h.driver().destroy(succeeding.id)])
  })

  it("StopTask sends the job's kill_signal and returns as soon as the task exits, well before a long timeout", async () => {
    const task = await h.start({
      config: { image: busybox, command: "sh", args: ["-c", trapping({ INT: "exit 4", TERM: "exit 5" })] }
    })
    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    const took = await timed(h.driver().stop(task.id, 45_000, "SIGINT"))
    expect(took).toBeLessThan(20_000)
    expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 4, signal: 0 })
    expect(task.dirs.stdout.text()).toContain("got SIGINT")
    expect(task.dirs.stdout.text()).not.toContain("got SIGTERM")
    // StopTask of a task that has exited succeeds (Nomad retries any error).
    await h.driver().stop(task.id, 1000, "SIGINT")
    await h.driver().destroy(task.id)
  })

  it("a task that ignores its signal is SIGKILLed at the timeout", async () => {
    const task = await h.start({ config: { image: busybox, command: "sh", args: ["-c", trapping({ TERM: "true" })] } })
    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    await h.driver().stop(task.id, 1000)
    expect(task.dirs.stdout.text()).toContain("got SIGTERM")
    expect((await h.driver().wait(task.id)).result).toEqual({ exitCode: 137, signal: 9, oomKilled: false })
    await h.driver().destroy(task.id)
  })

  it("with a long timeout, StopTask leaves a task that ignores its signal running, and returns when it exits", async () => {
    const task = await h.start({
      config: { image: busybox, command: "sh", args: ["-c", trapping({ TERM: "true", USR1: "exit 6" })] }
    })
    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    const started = Date.now()
    const stopping = h.driver().stop(task.id, 60_000)
    await task.dirs.stdout.waitFor((t) => t.includes("got SIGTERM"))
    expect((await h.driver().inspect(task.id)).task?.state).toBe(TaskState.RUNNING)
    await h.driver().signal(task.id, "SIGUSR1")
    await stopping
    expect(Date.now() - started).toBeLessThan(30_000)
    expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 6, signal: 0 })
    await h.driver().destroy(task.id)
  })

  it("without a kill_signal, StopTask sends the image's STOPSIGNAL", async () => {
    // test/multilayer: ENTRYPOINT ["/bin/sh", "-c"], STOPSIGNAL SIGQUIT, USER app.
    const task = await h.start({ config: { image: multilayer, args: [trapping({ QUIT: "exit 0", TERM: "exit 1" })] } })
    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    const took = await timed(h.driver().stop(task.id, 30_000))
    expect(took).toBeLessThan(20_000)
    expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 0, signal: 0 })
    expect(task.dirs.stdout.text()).toContain("got SIGQUIT")
    await h.driver().destroy(task.id)
  })

  it("an OOM kill is reported as such", async () => {
    const task = await h.start({
      config: { image: busybox, command: "dd", args: ["if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"] },
      memoryMB: 16
    })
    const { err, result } = await h.driver().wait(task.id)
    expect(result).toEqual({ exitCode: 137, signal: 9, oomKilled: true })
    expect(err).toBe("OOM Killed")
    await h.driver().destroy(task.id)
  })

  it("a restarted task (same allocation, new task id) starts once the previous attempt is destroyed", async () => {
    const alloc = h.allocation()
    const first = await h.start({ alloc, name: "web", config: { image: busybox, command: "sh", args: ["-c", "echo attempt-1; exit 1"] } })
    expect((await h.driver().wait(first.id)).result.exitCode).toBe(1)
    await h.driver().destroy(first.id)
    const second = await h.start({ alloc, name: "web", config: { image: busybox, command: "sh", args: ["-c", "echo attempt-2; sleep 600"] } })
    expect(second.id).not.toBe(first.id)
    expect(second.containerId).toBe(first.containerId)
    await second.dirs.stdout.waitFor((t) => t.includes("attempt-2\n"))
    expect(second.dirs.stdout.text()).toBe("attempt-1\nattempt-2\n")
    expect((await h.driver().inspect(second.id)).task?.state).toBe(TaskState.RUNNING)
    await h.driver().destroy(second.id)
  })

  it("a late DestroyTask of an earlier attempt leaves the newer attempt of the task running", async () => {
    const alloc = h.allocation()
    const first = await h.start({ alloc, name: "web", config: { image: busybox, command: "true" } })
    await h.driver().wait(first.id)
    // Nomad's DestroyTask of the first attempt failed or has not come yet when the restart starts.
    const second = await h.start({ alloc, name: "web", config: { image: busybox, command: "sleep", args: ["600"] } })
    await h.driver().destroy(first.id)
    expect((await h.driver().inspect(second.id)).task?.state).toBe(TaskState.RUNNING)
    expect((await h.exec(second.id, ["true"])).exitCode).toBe(0)
    await h.driver().destroy(second.id)
  })

  it("runs with Nomad's log collection disabled (stdout and stderr paths are /dev/null)", async () => {
    const { config } = h.prepare({ config: { image: busybox, command: "sh", args: ["-c", "echo discarded; echo discarded >&2; exit 5"] } })
    await h.driver().start({ ...config, stdoutPath: "/dev/null", stderrPath: "/dev/null" })
    expect((await h.driver().wait(config.id)).result).toEqual({ exitCode: 5, signal: 0, oomKilled: false })
    await h.driver().destroy(config.id)
  })

  it("InspectTask sets every field Nomad dereferences, before and after the exit", async () => {
    const before = Date.now()
    const task = await h.start({ config: { image: busybox, command: "sh", args: ["-c", trapping({ USR1: "exit 2" })] } })
    const after = Date.now()
    const running = await h.driver().inspect(task.id)
    expect(running.task).toMatchObject({ id: task.id, name: task.config.name, state: TaskState.RUNNING })
    const startedAt = running.task?.startedAt?.getTime() ?? 0
    expect(startedAt).toBeGreaterThanOrEqual(before - 1000)
    expect(startedAt).toBeLessThanOrEqual(after)
    expect(running.task?.completedAt).toEqual(goZeroTime)
    expect(running.task?.result).toEqual({ exitCode: 0, signal: 0, oomKilled: false })
    expect(running.driver?.attributes).toMatchObject({ containerName: task.containerId, namespace: h.namespace })

    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    await h.driver().signal(task.id, "SIGUSR1")
    await h.driver().wait(task.id)
    const exited = await h.driver().inspect(task.id)
    expect(exited.task).toMatchObject({ id: task.id, state: TaskState.EXITED, result: { exitCode: 2, signal: 0, oomKilled: false } })
    expect(exited.task?.startedAt?.getTime()).toBe(startedAt)
    const completedAt = exited.task?.completedAt?.getTime() ?? 0
    expect(completedAt).toBeGreaterThanOrEqual(startedAt)
    expect(completedAt).toBeLessThanOrEqual(Date.now())
    await h.driver().destroy(task.id)
  })
})
