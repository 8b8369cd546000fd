// Warnings about a plugin config that loads but would not work well on this node (logged at SetConfig, printed
// by `doctor`).
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { activeConfig } from "../../src/config/ActiveConfig.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { nodeWarnings } from "../../layers/NodeChecks.js"

// A node described by the files it has, so the checks do not depend on what this machine has installed.
// Debian's containerd and runc packages put the shim in /usr/bin and runc in /usr/sbin.
const containerdNode = ["/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc"]
const nodeWith = (files: ReadonlyArray<string>) => (file: string) => files.includes(file)

const warningsFor = (options: Record<string, unknown>, files: ReadonlyArray<string> = containerdNode) =>
  Effect.runSync(nodeWarnings(activeConfig(Schema.decodeUnknownSync(DriverConfig)(options), 1), nodeWith(files)))

describe("node checks", () => {
  it("find nothing wrong with the defaults on a node with containerd installed", () => {
    expect(warningsFor({})).toEqual([])
  })

  it("name the default runtime's shim on a node without containerd", () => {
    expect(warningsFor({}, [])).toEqual([
      'containerd_runtime "io.containerd.runc.v2": containerd runs it with containerd-shim-runc-v2, which is not on this node\'s PATH; tasks will fail to start'
    ])
    expect(warningsFor({}, ["/usr/local/bin/containerd-shim-runc-v2"])).toEqual([])
  })

  it("name a runtime whose shim or runtime binary is not on the node", () => {
    expect(warningsFor({ containerd_runtime: "io.containerd.nosuch.v1" })).toEqual([
      'containerd_runtime "io.containerd.nosuch.v1": containerd runs it with containerd-shim-nosuch-v1, which is not on this node\'s PATH; tasks will fail to start'
    ])
    expect(warningsFor({ containerd_runtime: "nosuch-runtime" })[0]).toMatch(/the runc shim would run the binary nosuch-runtime, which is not on this node's PATH/)
    expect(warningsFor({ containerd_runtime: "runc" })).toEqual([])
    expect(warningsFor({ containerd_runtime: "/opt/nosuch/containerd-shim-x-v1" })[0]).toMatch(/there is no shim binary at \/opt\/nosuch/)
    expect(warningsFor({ containerd_runtime: "/opt/shims/containerd-shim-x-v1" }, ["/opt/shims/containerd-shim-x-v1"])).toEqual([])
  })

  it("name a Docker config.json that does not exist, and a bad stats_interval", () => {
    expect(warningsFor({ auth: { config: "/nonexistent/config.json" } })).toEqual([
      'auth.config "/nonexistent/config.json" does not exist; registry credentials from it are not available'
    ])
    expect(warningsFor({ auth: { config: "/etc/docker/config.json" } }, [...containerdNode, "/etc/docker/config.json"])).toEqual([])
    expect(warningsFor({ stats_interval: "often" })[0]).toMatch(/^stats_interval "often" is not a Go duration/)
  })
})
