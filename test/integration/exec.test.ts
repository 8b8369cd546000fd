// ExecTask (Nomad's script checks) through the built plugin on the real containerd: exit codes and output, the
// task's own env, cwd and user, the timeout, clear failures for tasks that cannot run a command, and no exec
// process left in containerd afterwards.
import * as grpc from "@grpc/grpc-js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { outputCap as execOutputCap } from "../../layers/Exec.js"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const multilayer = `${integrationEnv.registry}/test/multilayer:latest`

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-exectask", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

/** The task's processes that are not its init process. */
const execProcesses = async (containerId: string) => (await h.probe.processes(containerId)).filter((p) => p.execId !== undefined)

describe.concurrent("ExecTask", () => {
  it("returns the command's exit code and its stdout and stderr apart, and leaves no exec process", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
    expect(await h.exec(task.id, ["sh", "-c", "echo out; echo err >&2; exit 7"])).toEqual({
      stdout: "out\n",
      stderr: "err\n",
      exitCode: 7,
      signal: 0
    })
    expect(await h.exec(task.id, ["true"])).toEqual({ stdout: "", stderr: "", exitCode: 0, signal: 0 })
    expect(await execProcesses(task.containerId)).toEqual([])
    expect(await h.probe.processes(task.containerId)).toHaveLength(1)
    // The task's own output is not the command's.
    expect(task.dirs.stdout.text()).toBe("")
  })

  it("keeps the first 64 KiB of each stream of a command that writes more, without blocking it", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
    const result = await h.exec(task.id, ["sh", "-c", "yes out | head -c 1000000; yes err | head -c 1000000 >&2"])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toBe("out\n".repeat(execOutputCap / 4))
    expect(result.stderr).toBe("err\n".repeat(execOutputCap / 4))
  })

  it("returns once the command exits, even when a child it left in the background still holds its output", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
    const started = Date.now()
    const result = await h.exec(task.id, ["sh", "-c", "sleep 60 & echo spawned"])
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(result).toMatchObject({ stdout: "spawned\n", exitCode: 0 })
  })

  it("runs with the task's environment, working directory and the image's user", async () => {
    // test/multilayer: USER app (1000:1000), WorkingDir /data, ENV FOO=bar, ENTRYPOINT ["/bin/sh", "-c"].
    const task = await h.start({ name: "checked", config: { image: multilayer, args: ["sleep 600"] }, env: { GREETING: "hi" } })
    const { exitCode, stdout } = await h.exec(task.id, ["sh", "-c", 'pwd; id -u; id -g; echo "$GREETING $FOO $NOMAD_TASK_NAME"'])
    expect(exitCode).toBe(0)
    expect(stdout).toBe("/data\n1000\n1000\nhi bar checked\n")
  })

  it("runs as the task's user in the task's cwd when the job sets them", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"], cwd: "/tmp" }, user: "nobody" })
    expect(await h.exec(task.id, ["sh", "-c", "pwd; id -un; id -u"])).toMatchObject({ stdout: "/tmp\nnobody\n65534\n", exitCode: 0 })
  })

  it("kills the command at its timeout and returns promptly with SIGKILL's result", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
    const started = Date.now()
    const result = await h.exec(task.id, ["sleep", "60"], 1000)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(result).toMatchObject({ exitCode: 137, signal: 9 })
    expect(await execProcesses(task.containerId)).toEqual([])
    // The task itself is untouched.
    expect(await h.exec(task.id, ["true"])).toMatchObject({ exitCode: 0 })
  })

  it("fails clearly for a task that has exited and for an id the driver does not know", async () => {
    const task = await h.start({ config: { image: busybox, command: "true" } })
    await h.driver().wait(task.id)
    const exited = await failureOf(h.exec(task.id, ["true"]))
    expect(exited.message).toBe(`task ${task.id} has exited; a command cannot run in it`)
    const unknown = await failureOf(h.exec("no-such-alloc/task/00000000", ["true"]))
    expect(unknown).toMatchObject({ code: grpc.status.NOT_FOUND, message: 'task "no-such-alloc/task/00000000" is not known to the driver' })
    await h.driver().destroy(task.id)
  })

  it("fails clearly for a command that is not in the image, and leaves no exec process", async () => {
    const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
    const failure = await failureOf(h.exec(task.id, ["/no/such/command"]))
    expect(failure.message).toMatch(/^Error in exec: .*"\/no\/such\/command".*no such file or directory/)
    expect(await execProcesses(task.containerId)).toEqual([])
  })
})
