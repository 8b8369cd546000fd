// Recovery after the plugin process dies: a new plugin process, configured as
// Nomad configures it (SetConfig, Init), re-adopts every task from the handles Nomad kept — whose config carries
// no driver config then — and serves them: logs continue without a gap (the shim writes straight to logmon's
// FIFOs), WaitTask returns each task's true exit result, also of a task that exited while no plugin ran.
import * as grpc from "@grpc/grpc-js"
import { encode as encodeMsgpack } from "@msgpack/msgpack"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Containerd from "../../layers/Containerd.js"
import { describe, expect, it } from "vitest"
import { type TaskHandle, TaskState } from "../../src/gen/plugins/drivers/proto/driver.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { containerOf, failureOf, type Harness, withHarness as withOwnHarness, launchDriver, type StartedTask } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const multilayer = `${integrationEnv.registry}/test/multilayer:latest`

/** Numbered lines on stdout, about fifty a second, until the test puts `exit` into the task's local dir. */
const counting = 'i=0; while [ ! -e /local/exit ]; do echo "line $i"; i=$((i+1)); usleep 20000; done; exit $EXIT_CODE'

/** The handle as Nomad gives it back after an agent restart: the task's driver config is not persisted. */
const persisted = (handle: TaskHandle): TaskHandle => ({
  ...handle,
  config: handle.config === undefined ? undefined : { ...handle.config, msgpackDriverConfig: Buffer.alloc(0) }
})

const lineCount = (text: string) => text.split("\n").filter((l) => l.startsWith("line ")).length

/** Fails unless the text is exactly `line 0`, `line 1`, ... with nothing missing, repeated or between. */
const expectGapless = (text: string) => {
  const lines = text.split("\n")
  expect(lines.pop()).toBe("")
  expect(lines.length).toBeGreaterThan(0)
  const firstWrong = lines.findIndex((line, i) => line !== `line ${i}`)
  expect(firstWrong === -1 ? "no gap" : `line ${firstWrong} is ${JSON.stringify(lines[firstWrong])}`).toBe("no gap")
}

const withHarness = (prefix: string, body: (h: Harness) => Promise<void>) =>
  withOwnHarness({ prefix, containerdAddress: integrationEnv.containerdAddress }, body)

/** SIGKILLs the plugin in use and puts a new process in its place, configured as Nomad does it. */
const restartPlugin = async (h: Harness) => {
  await h.plugin().crash()
  h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
}

const waitFor = async (condition: () => boolean) => {
  while (!condition()) await new Promise((r) => setTimeout(r, 20))
}

/**
 * A running task, and a second task's config with a directory in containerd's task state where its task's would go:
 * the directory of the running task's shim (it runs in its task's directory) is a sibling of it.
 */
const inTheWayOfAStart = async (h: Harness) => {
  const running = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
  const { pid } = await h.probe.task(running.containerId)
  const shim = Number(/^PPid:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1])
  const namespaceDirectory = path.dirname(fs.readlinkSync(`/proc/${shim}/cwd`))
  expect(path.basename(namespaceDirectory)).toBe(h.namespace)
  const { config } = h.prepare({ config: { image: busybox, command: "sleep", args: ["600"] } })
  // The same task name in another allocation: its container id is the running one's with the other allocation id.
  const taskDirectory = path.join(namespaceDirectory, running.containerId.replace(running.config.allocId, config.allocId))
  fs.mkdirSync(taskDirectory)
  return { running, config, taskDirectory }
}

describe.concurrent("a new plugin process after a SIGKILL", { timeout: 90_000 }, () => {
  it("recovers ten running tasks, one of which exited meanwhile, with gapless logs and their true exit results", async () =>
    withHarness("cdd-recover", async (h) => {
      const tasks: Array<StartedTask> = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          h.start({ name: `counter${i}`, config: { image: busybox, command: "sh", args: ["-c", counting] }, env: { EXIT_CODE: String(10 + i) } })
        )
      )
      await Promise.all(tasks.map((t) => t.dirs.stdout.waitFor((text) => lineCount(text) >= 3)))
      const handles = tasks.map((t) => persisted(t.handle))
      // A WaitTask pending when the plugin dies fails as Nomad expects of a dead plugin; Nomad then recovers.
      const pending = h.driver().wait(tasks[1]!.id).then(() => "answered", (e: grpc.ServiceError) => e.code)
      // Calls on one connection reach the plugin in order: once this is answered, the WaitTask is in flight.
      await h.driver().inspect(tasks[1]!.id)
      await h.plugin().crash()
      expect(await pending).toBe(grpc.status.UNAVAILABLE)

      // While no plugin runs: the tasks keep writing to logmon's FIFOs, and one of them exits.
      const countsWhileDown = tasks.map((t) => lineCount(t.dirs.stdout.text()))
      await Promise.all(tasks.map((t, i) => t.dirs.stdout.waitFor((text) => lineCount(text) >= countsWhileDown[i]! + 5)))
      fs.writeFileSync(path.join(tasks[0]!.dirs.dir, "local", "exit"), "")
      expect(await h.probe.waitExit(tasks[0]!.containerId)).toBe(10)

      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      await Promise.all(handles.map((handle) => h.driver().recover(handle)))
      expect((await h.driver().wait(tasks[0]!.id)).result).toEqual({ exitCode: 10, signal: 0, oomKilled: false })
      const states = await Promise.all(tasks.slice(1).map((t) => h.driver().inspect(t.id)))
      expect(states.map((s) => s.task?.state)).toEqual(tasks.slice(1).map(() => TaskState.RUNNING))

      const countsAtRecovery = tasks.map((t) => lineCount(t.dirs.stdout.text()))
      await Promise.all(tasks.slice(1).map((t, i) => t.dirs.stdout.waitFor((text) => lineCount(text) >= countsAtRecovery[i + 1]! + 5)))
      for (const t of tasks.slice(1)) fs.writeFileSync(path.join(t.dirs.dir, "local", "exit"), "")
      const results = await Promise.all(tasks.map((t) => h.driver().wait(t.id)))
      expect(results.map((r) => r.result.exitCode)).toEqual(tasks.map((_, i) => 10 + i))
      for (const t of tasks) expectGapless(t.dirs.stdout.text())

      await Promise.all(tasks.map((t) => h.driver().destroy(t.id)))
      expect(await h.probe.state()).toEqual(emptyNamespace)
    }))

  it("a recovered task keeps its image's STOPSIGNAL and serves exec, signal and stop", async () =>
    withHarness("cdd-recover-stop", async (h) => {
      const task = await h.start({
        config: { image: multilayer, args: ['trap "echo got SIGQUIT; exit 0" QUIT; trap "echo got SIGHUP" HUP; echo ready; while true; do sleep 1 & wait $!; done'] }
      })
      await task.dirs.stdout.waitFor((t) => t.includes("ready"))
      await restartPlugin(h)
      await h.driver().recover(persisted(task.handle))
      expect(await h.exec(task.id, ["id", "-un"])).toMatchObject({ stdout: "app\n", exitCode: 0 })
      await h.driver().signal(task.id, "SIGHUP")
      await task.dirs.stdout.waitFor((t) => t.includes("got SIGHUP"))
      await h.driver().stop(task.id, 30_000)
      expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 0, signal: 0 })
      expect(task.dirs.stdout.text()).toContain("got SIGQUIT")
      await h.driver().destroy(task.id)
    }))

  it("RecoverTask of a task whose container was removed meanwhile fails clearly, and DestroyTask then succeeds", async () =>
    withHarness("cdd-recover-gone", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
      await h.plugin().crash()
      await h.probe.removeContainer(task.containerId)
      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      const failure = await failureOf(h.driver().recover(persisted(task.handle)))
      expect(failure.message).toMatch(new RegExp(`^Error in recovering container: .*${task.containerId}.*not found`))
      // Nomad destroys a task it could not recover, then starts it anew.
      await h.driver().destroy(task.id)
      expect(await h.probe.state()).toEqual(emptyNamespace)
    }))

  it("RecoverTask of a container without its task (a host reboot) fails clearly, and DestroyTask removes the container", async () =>
    withHarness("cdd-recover-reboot", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"], extra_hosts: ["db:127.0.1.1"] } })
      await h.plugin().crash()
      await h.probe.deleteTask(task.containerId)
      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      const failure = await failureOf(h.driver().recover(persisted(task.handle)))
      expect(failure.message).toBe(
        `Error in recovering task: container ${task.containerId} has no task in containerd (was the host rebooted?)`
      )
      await h.driver().destroy(task.id)
      expect(await h.probe.state()).toEqual(emptyNamespace)
      expect(fs.existsSync(path.join(task.dirs.dir, "containerd-driver"))).toBe(false)
    }))

  it("StartTask retried by a new plugin after the first died during it replaces what the first one made", async () =>
    withHarness("cdd-recover-start", async (h) => {
      const { config } = h.prepare({ config: { image: busybox, command: "sleep", args: ["600"] } })
      const first = h.driver().start(config).then(() => "answered", (e: grpc.ServiceError) => e.code)
      // Once the container exists the start is under way (or done): the plugin dies there.
      while ((await h.probe.state()).containers.length === 0) await new Promise((r) => setTimeout(r, 20))
      await h.plugin().crash()
      expect(["answered", grpc.status.UNAVAILABLE]).toContain(await first)
      // Nomad relaunches the plugin and retries StartTask once with the same task config.
      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      const handle = await h.driver().start(config)
      const cid = containerOf(handle)
      expect(await h.probe.state()).toEqual({ containers: [cid], tasks: [cid], snapshots: [`overlayfs/${cid}-snapshot`], leases: [] })
      expect(await h.exec(config.id, ["true"])).toMatchObject({ exitCode: 0 })
      await h.driver().destroy(config.id)
      expect(await h.probe.state()).toEqual(emptyNamespace)
    }))

  // What the race above can leave: containerd still undoing the dead start's Tasks.Create, its task directory not yet
  // gone when the new start creates the task. The test makes that directory itself, in the containerd's own state.
  it("StartTask waits for containerd to remove a task directory an earlier start left, and starts the task", async () =>
    withHarness("cdd-recover-taskdir", async (h) => {
      const { taskDirectory, config } = await inTheWayOfAStart(h)
      const start = h.driver().start(config)
      // The plugin says it is waiting, so containerd has refused the create once: only then does the directory go
      // (a start that fails instead ends the test with its error).
      await Promise.race([waitFor(() => h.plugin().process.stderr().includes("waiting for it to go")), start])
      fs.rmdirSync(taskDirectory)
      const cid = containerOf(await start)
      expect(await h.exec(config.id, ["echo", "started"])).toMatchObject({ stdout: "started\n", exitCode: 0 })
      await h.driver().destroy(config.id)
      expect((await h.probe.state()).containers).not.toContain(cid)
    }))

  it("StartTask fails clearly when a task directory stays in the way, and leaves nothing behind", async () =>
    withHarness("cdd-recover-taskdir-stays", async (h) => {
      const { taskDirectory, config, running } = await inTheWayOfAStart(h)
      try {
        const failure = await failureOf(h.driver().start(config))
        expect(failure.message).toMatch(/^Error in creating task: .*failed to start shim: mkdir .*: file exists/)
        expect(await h.probe.state()).toEqual({
          containers: [running.containerId],
          tasks: [running.containerId],
          snapshots: [`overlayfs/${running.containerId}-snapshot`],
          leases: []
        })
      } finally {
        fs.rmdirSync(taskDirectory)
      }
    }))

  it("a handle written by the original Go driver is recovered, and its task stopped and destroyed", async () =>
    withHarness("cdd-recover-legacy", async (h) => {
      const task = await h.start({
        config: { image: busybox, command: "sh", args: ["-c", 'trap "exit 0" TERM; echo ready; while true; do sleep 1 & wait $!; done'] }
      })
      await task.dirs.stdout.waitFor((t) => t.includes("ready"))
      await restartPlugin(h)
      // The Go driver's TaskState, msgpack-encoded as Nomad's base plugin encodes driver state.
      const legacy: TaskHandle = {
        ...persisted(task.handle),
        driverState: Buffer.from(encodeMsgpack({
          StartedAt: new Date(),
          ContainerName: task.containerId,
          StdoutPath: task.config.stdoutPath,
          StderrPath: task.config.stderrPath
        }))
      }
      await h.driver().recover(legacy)
      expect((await h.driver().inspect(task.id)).task?.state).toBe(TaskState.RUNNING)
      await h.driver().stop(task.id, 30_000)
      expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 0, signal: 0 })
      await h.driver().destroy(task.id)
      expect(await h.probe.state()).toEqual(emptyNamespace)
    }))

  it("a task of the original driver keeps its logs flowing after the upgrade: its output is copied into Nomad's FIFOs", async () =>
    withHarness("cdd-recover-legacy-logs", async (h) => {
      // The container the original driver made; its task waits for the test's go before writing about 190 KiB,
      // which, with no reader, blocks at the pipe's 64 KiB.
      const task = await h.start({
        name: "legacy",
        config: {
          image: busybox,
          command: "sh",
          args: ["-c", 'while [ ! -e /local/go ]; do usleep 20000; done; i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done']
        }
      })
      await restartPlugin(h)
      // Its task as the original driver created it: the shim writes to FIFOs of the driver's own, which the driver
      // copied into Nomad's — held open while the task was created, then gone with the old plugin.
      const fifos = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-legacy-fifo-"))
      try {
        const shimOut = path.join(fifos, `${task.containerId}-stdout`)
        const shimErr = path.join(fifos, `${task.containerId}-stderr`)
        execFileSync("mkfifo", [shimOut, shimErr])
        const held = [shimOut, shimErr].map((f) => fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK))
        await h.probe.run(Effect.gen(function*() {
          const cd = yield* Containerd.Containerd
          const containerId = task.containerId
          yield* cd.tasks.kill({ containerId, signal: 9, all: true })
          yield* cd.tasks.wait({ containerId })
          yield* cd.tasks.delete({ containerId })
          const { container } = yield* cd.containers.get({ id: containerId })
          const { mounts } = yield* cd.snapshots.mounts({ snapshotter: container!.snapshotter, key: container!.snapshotKey })
          yield* cd.tasks.create({ containerId, rootfs: mounts, stdout: shimOut, stderr: shimErr })
          yield* cd.tasks.start({ containerId })
        }))
        for (const fd of held) fs.closeSync(fd)
        fs.writeFileSync(path.join(task.dirs.dir, "local", "go"), "")
        const before = task.dirs.stdout.text().length

        await h.driver().recover({
          version: 1,
          config: { ...task.config, msgpackDriverConfig: Buffer.alloc(0) },
          state: TaskState.RUNNING,
          driverState: Buffer.from(encodeMsgpack({
            StartedAt: new Date(),
            ContainerName: task.containerId,
            StdoutPath: task.config.stdoutPath,
            StderrPath: task.config.stderrPath
          }))
        })
        await task.dirs.stdout.waitFor((t) => t.includes("line 19999\n"), 30_000)
        expectGapless(task.dirs.stdout.text().slice(before))
        expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 0, signal: 0 })
        await h.driver().destroy(task.id)
        expect(await h.probe.state()).toEqual(emptyNamespace)
      } finally {
        fs.rmSync(fifos, { recursive: true, force: true })
      }
    }))

  it("RecoverTask twice, and of a task the process already runs, is fine", async () =>
    withHarness("cdd-recover-twice", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
      // The agent restarted but the plugin survived (reattach): the task is already known.
      await h.driver().recover(persisted(task.handle))
      await restartPlugin(h)
      await h.driver().recover(persisted(task.handle))
      await h.driver().recover(persisted(task.handle))
      expect((await h.driver().inspect(task.id)).task?.state).toBe(TaskState.RUNNING)
      await h.driver().stop(task.id, 500)
      expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 137, signal: 9 })
      await h.driver().destroy(task.id)
      expect(await h.probe.state()).toEqual(emptyNamespace)
    }))
})
