// containerd restarted under running tasks, through the built plugin: a private containerd (its own socket, root
// and state; test/support/SecondContainerd.ts) that the plugin's containerd_address points at. The tasks' shims
// outlive containerd, so the tasks keep running and writing their logs while it is down; once it is back the
// plugin serves them again — WaitTask returns the true exit, also of a task that exited while containerd was
// down, and StopTask and ExecTask work.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { TaskState } from "../../src/gen/plugins/drivers/proto/driver.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { harness } from "../support/driverHarness.js"
import { secondContainerd } from "../support/SecondContainerd.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`

/** Numbered lines on stdout until the test puts `exit` into the task's local dir, then exits with $EXIT_CODE. */
const counting = 'i=0; while [ ! -e /local/exit ]; do echo "line $i"; i=$((i+1)); usleep 20000; done; exit $EXIT_CODE'

const lineCount = (text: string) => text.split("\n").filter((l) => l.startsWith("line ")).length

describe("containerd restarted while tasks run", () => {
  it("the tasks keep running and the plugin serves them again: WaitTask, StopTask, ExecTask", { timeout: 120_000 }, async () => {
    const ctd = secondContainerd()
    try {
      await ctd.start()
      const h = await harness({ prefix: "cdd-ctd-restart", containerdAddress: ctd.socket })
      try {
        const counter = (name: string, code: number) =>
          h.start({ name, config: { image: busybox, command: "sh", args: ["-c", counting] }, env: { EXIT_CODE: String(code) } })
        const [exitsWhileDown, exitsAfter, served] = await Promise.all([
          counter("down", 3),
          counter("after", 4),
          h.start({
            name: "served",
            config: { image: busybox, command: "sh", args: ["-c", 'trap "exit 0" TERM; echo ready; while true; do sleep 1 & wait $!; done'] }
          })
        ])
        await served.dirs.stdout.waitFor((t) => t.includes("ready"))
        // Nomad's WaitTasks are pending across the outage.
        const waits = [exitsWhileDown, exitsAfter].map((t) => h.driver().wait(t.id))

        await ctd.stop()
        const counts = [exitsWhileDown, exitsAfter].map((t) => lineCount(t.dirs.stdout.text()))
        await exitsWhileDown.dirs.stdout.waitFor((t) => lineCount(t) >= counts[0]! + 5)
        await exitsAfter.dirs.stdout.waitFor((t) => lineCount(t) >= counts[1]! + 5)
        fs.writeFileSync(path.join(exitsWhileDown.dirs.dir, "local", "exit"), "")
        await ctd.start()

        expect((await waits[0]!).result).toEqual({ exitCode: 3, signal: 0, oomKilled: false })
        expect((await h.driver().inspect(exitsAfter.id)).task?.state).toBe(TaskState.RUNNING)
        fs.writeFileSync(path.join(exitsAfter.dirs.dir, "local", "exit"), "")
        expect((await waits[1]!).result).toEqual({ exitCode: 4, signal: 0, oomKilled: false })

        expect(await h.exec(served.id, ["echo", "still here"])).toMatchObject({ stdout: "still here\n", exitCode: 0 })
        await h.driver().stop(served.id, 30_000)
        expect((await h.driver().wait(served.id)).result).toMatchObject({ exitCode: 0, signal: 0 })

        await Promise.all([exitsWhileDown, exitsAfter, served].map((t) => h.driver().destroy(t.id)))
        expect(await h.probe.state()).toEqual(emptyNamespace)
      } finally {
        await h.dispose()
      }
    } finally {
      await ctd.dispose()
    }
  })
})
