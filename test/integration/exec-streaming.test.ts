// `nomad alloc exec` through the built plugin on the real containerd: ExecTaskStreaming with and without a
// terminal, stdin and its close, resizes reaching the exec's own terminal, exit codes, clear errors, and no
// exec process left behind when the client goes away.
import * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import type {
  ExecTaskStreamingRequest,
  ExecTaskStreamingResponse
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`

let h: Harness
let taskId: string
let containerId: string

beforeAll(async () => {
  h = await harness({ prefix: "cdd-exec-stream", containerdAddress: integrationEnv.containerdAddress })
  const task = await h.start({
    name: "shell",
    config: { image: busybox, command: "sleep", args: ["3600"], cwd: "/tmp" },
    env: { GREETING: "hello from the task" }
  })
  taskId = task.id
  containerId = task.containerId
})

afterAll(async () => {
  await h?.dispose()
})

interface Session {
  readonly send: (request: Partial<ExecTaskStreamingRequest>) => void
  readonly halfClose: () => void
  readonly cancel: () => void
  /** Everything the plugin sent, once the stream ended (or its error). */
  readonly done: Promise<{ readonly responses: Array<ExecTaskStreamingResponse>; readonly error?: grpc.ServiceError }>
  readonly responses: Array<ExecTaskStreamingResponse>
}

const session = (setup: { readonly taskId: string; readonly command: ReadonlyArray<string>; readonly tty: boolean }): Session => {
  const call = h.plugin().process.driver.execTaskStreaming()
  const responses: Array<ExecTaskStreamingResponse> = []
  const done = new Promise<{ responses: Array<ExecTaskStreamingResponse>; error?: grpc.ServiceError }>((resolve) => {
    call.on("data", (response: ExecTaskStreamingResponse) => responses.push(response))
    call.on("end", () => resolve({ responses }))
    call.on("error", (error: grpc.ServiceError) => resolve({ responses, error }))
  })
  const send = (request: Partial<ExecTaskStreamingRequest>) => call.write({ setup: undefined, ttySize: undefined, stdin: undefined, ...request })
  send({ setup: { taskId: setup.taskId, command: [...setup.command], tty: setup.tty } })
  return { send, halfClose: () => call.end(), cancel: () => call.cancel(), done, responses }
}

const text = (responses: ReadonlyArray<ExecTaskStreamingResponse>, kind: "stdout" | "stderr") =>
  Buffer.concat(responses.flatMap((r) => (r[kind] === undefined ? [] : [r[kind]!.data]))).toString("utf8")

const stdin = (data: string, close = false) => ({ stdin: { data: Buffer.from(data), close } })

/** Resolves once the plugin has sent output containing `needle`. */
const seen = (s: Session, needle: string) =>
  new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (text(s.responses, "stdout").includes(needle)) {
        clearInterval(timer)
        resolve()
      }
    }, 20)
    setTimeout(() => {
      clearInterval(timer)
      reject(new Error(`not seen: ${needle}; got ${JSON.stringify(text(s.responses, "stdout"))}`))
    }, 10_000)
  })

const execPids = () =>
  h.probe.run(
    Effect.flatMap(Containerd.Containerd, (cd) => cd.tasks.listPids({ containerId })).pipe(
      Effect.map(({ processes }) => processes.filter((p) => p.info !== undefined).length)
    )
  )

describe("ExecTaskStreaming", () => {
  it("without a terminal: stdin reaches the command until closed, stdout and stderr stay apart, the exit code arrives last", async () => {
    const s = session({ taskId, command: ["sh", "-c", "cat; echo \"$GREETING in $(pwd)\" >&2; exit 5"], tty: false })
    s.send(stdin("line one\n"))
    s.send({})
    s.send(stdin("line two\n", true))
    const { error, responses } = await s.done
    expect(error).toBeUndefined()
    expect(text(responses, "stdout")).toBe("line one\nline two\n")
    expect(text(responses, "stderr")).toBe("hello from the task in /tmp\n")
    const closes = responses.filter((r) => r.stdout?.close === true || r.stderr?.close === true)
    expect(closes).toHaveLength(2)
    const last = responses[responses.length - 1]!
    expect(last.exited).toBe(true)
    expect(last.result).toEqual({ exitCode: 5, signal: 0, oomKilled: false })
    expect(responses.indexOf(closes[1]!)).toBeLessThan(responses.length - 1)
  })

  it("with a terminal: a resize reaches the exec's own pty (stty size), and the session ends with the shell", async () => {
    const s = session({ taskId, command: ["sh"], tty: true })
    s.send({ ttySize: { height: 41, width: 133 } })
    s.send(stdin("stty size; echo marker-$((6*7))\n"))
    await seen(s, "marker-42")
    expect(text(s.responses, "stdout")).toMatch(/41 133\r?\n/)
    s.send({ ttySize: { height: 20, width: 60 } })
    s.send(stdin("stty size; exit 3\n"))
    const { error, responses } = await s.done
    expect(error).toBeUndefined()
    expect(text(responses, "stdout")).toMatch(/20 60\r?\n/)
    expect(responses[responses.length - 1]!.result?.exitCode).toBe(3)
  })

  it("a client that goes away midway leaves no exec process behind", async () => {
    const s = session({ taskId, command: ["sh", "-c", "echo started; sleep 1000"], tty: false })
    await seen(s, "started")
    expect(await execPids()).toBe(1)
    s.cancel()
    await s.done
    for (let i = 0; i < 100 && (await execPids()) > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await execPids()).toBe(0)
  })

  it("fails clearly for an unknown task and for a task that has exited", async () => {
    const unknown = await session({ taskId: "no-such/task/id", command: ["true"], tty: false }).done
    expect(unknown.error?.code).toBe(grpc.status.NOT_FOUND)
    expect(unknown.error?.details).toContain("is not known to the driver")

    const brief = await h.start({ name: "brief", config: { image: busybox, command: "true" } })
    await h.driver().wait(brief.id)
    const exited = await session({ taskId: brief.id, command: ["true"], tty: false }).done
    expect(exited.error?.code).toBe(grpc.status.FAILED_PRECONDITION)
    expect(exited.error?.details).toContain("has exited")
    await h.driver().destroy(brief.id)
  })
})
