// Warnings about a plugin config that loads but would not work well on this node (logged at SetConfig, printed
// by `doctor`).
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { activeConfig } from "../../src/config/ActiveConfig.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { nodeWarnings } from "../../layers/NodeChecks.js"

const warningsFor = (options: Record<string, unknown>) =>
  Effect.runSync(nodeWarnings(activeConfig(Schema.decodeUnknownSync(DriverConfig)(options), 1)))

describe("node checks", () => {
  it("find nothing wrong with the defaults on a node with containerd installed", () => {
    expect(warningsFor({})).toEqual([])
  })

  it("name a runtime whose shim or runtime binary is not on the node", () => {
    expect(warningsFor({ containerd_runtime: "io.containerd.nosuch.v1" })).toEqual([
      'containerd_runtime "io.containerd.nosuch.v1": containerd runs it with containerd-shim-nosuch-v1, which is not on this node\'s PATH; tasks will fail to start'
    ])
    expect(warningsFor({ containerd_runtime: "nosuch-runtime" })[0]).toMatch(/the runc shim would run the binary nosuch-runtime, which is not on this node's PATH/)
    expect(warningsFor({ containerd_runtime: "runc" })).toEqual([])
    expect(warningsFor({ containerd_runtime: "/opt/nosuch/containerd-shim-x-v1" })[0]).toMatch(/there is no shim binary at \/opt\/nosuch/)
  })

  it("name a Docker config.json that does not exist, and a bad stats_interval", () => {
    expect(warningsFor({ auth: { config: "/nonexistent/config.json" } })).toEqual([
      'auth.config "/nonexistent/config.json" does not exist; registry credentials from it are not available'
    ])
    expect(warningsFor({ stats_interval: "often" })[0]).toMatch(/^stats_interval "often" is not a Go duration/)
  })
})
