// Mapping grpc-js statuses to ContainerdError: reason per errdefs code, method names, and telling "containerd
// could not be reached" apart from containerd's own UNAVAILABLE answers.
import { describe, expect, it } from "@effect/vitest"
import { fromGrpcError, reasonFromCode, shortMethodName, socketPath } from "../../layers/containerd/ContainerdError.js"

const path = "/containerd.services.content.v1.Content/Write"
const address = "/run/containerd/containerd.sock"

describe("ContainerdError mapping", () => {
  it("maps every errdefs gRPC code to its reason and everything else to Unknown", () => {
    expect([3, 4, 5, 6, 9, 11, 12, 14].map(reasonFromCode)).toEqual([
      "InvalidArgument",
      "DeadlineExceeded",
      "NotFound",
      "AlreadyExists",
      "FailedPrecondition",
      "OutOfRange",
      "Unimplemented",
      "Unavailable"
    ])
    for (const code of [0, 1, 2, 7, 8, 10, 13, 15, 16, 99]) expect(reasonFromCode(code)).toBe("Unknown")
  })

  it("names the method briefly and keeps containerd's message", () => {
    const error = fromGrpcError({ code: 9, details: "unexpected commit digest sha256:a, expected sha256:b: failed precondition" }, path, address)
    expect(error._tag).toBe("ContainerdError")
    expect(error.reason).toBe("FailedPrecondition")
    expect(error.method).toBe("Content.Write")
    expect(error.detail).toBe("unexpected commit digest sha256:a, expected sha256:b: failed precondition")
    expect(error.message).toBe(`containerd Content.Write: ${error.detail}`)
    expect(error.code).toBe(9)
    expect(error.unreachable).toBe(false)
  })

  it("treats containerd's own UNAVAILABLE (a locked ref) as reachable", () => {
    const error = fromGrpcError({ code: 14, details: "ref default/1/layer-x locked for 1s (since now): unavailable" }, path, address)
    expect(error.reason).toBe("Unavailable")
    expect(error.unreachable).toBe(false)
  })

  it.each([
    ["No connection established. Last error: Error: connect ENOENT /run/containerd/containerd.sock.", "does not exist"],
    ["No connection established. Last error: Error: connect EACCES /run/containerd/containerd.sock.", "permission denied"],
    ["No connection established. Last error: Error: connect ECONNREFUSED /run/containerd/containerd.sock.", "refused"],
    ["Connection dropped", "restarting"]
  ])("a transport failure (%s) is unreachable with an actionable message", (details, hint) => {
    const error = fromGrpcError({ code: 14, details }, path, `unix://${address}`)
    expect(error.reason).toBe("Unavailable")
    expect(error.unreachable).toBe(true)
    expect(error.message).toContain(`containerd is not reachable at ${address}: `)
    expect(error.message).toContain(hint)
  })

  it("leaves out grpc-js's empty resolution note", () => {
    const details = "No connection established. Last error: Error: connect ECONNREFUSED /run/containerd/containerd.sock. Resolution note: "
    const error = fromGrpcError({ code: 14, details }, path, `unix://${address}`)
    expect(error.message).toMatch(/connect ECONNREFUSED \/run\/containerd\/containerd\.sock\.$/)
  })

  it("falls back to Unknown for errors without a status", () => {
    const error = fromGrpcError({ message: "socket hang up" }, path, address)
    expect(error.reason).toBe("Unknown")
    expect(error.detail).toBe("socket hang up")
  })

  it("shortens paths and strips unix schemes", () => {
    expect(shortMethodName("/containerd.services.tasks.v1.Tasks/Create")).toBe("Tasks.Create")
    expect(shortMethodName("/grpc.health.v1.Health/Check")).toBe("Health.Check")
    expect(socketPath("unix:///run/x.sock")).toBe("/run/x.sock")
    expect(socketPath("unix:/run/x.sock")).toBe("/run/x.sock")
    expect(socketPath("/run/x.sock")).toBe("/run/x.sock")
  })
})
