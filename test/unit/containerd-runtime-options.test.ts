// The runtime options sent with a container: runc's binary_name for a runtime named by its binary, nothing else.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { AnyTypes, unpack } from "../../src/containerd/any.js"
import { runtimeOptions } from "../../src/containerd/runtimeOptions.js"
import { Options } from "../../src/gen/github.com/containerd/containerd/api/types/runc/options/oci.js"
import { containerdRuntime } from "../../src/oci/Spec.js"
import { baseDriver, baseTask } from "../support/ociInput.js"

describe("runtimeOptions", () => {
  it("names the binary in containerd.runc.v1.Options for the runc v2 shim, leaving every other option unset", () => {
    const any = runtimeOptions({ name: "io.containerd.runc.v2", binaryName: "runsc" })
    expect(any?.typeUrl).toBe("containerd.runc.v1.Options")
    expect(Either.getOrThrow(unpack(AnyTypes.RuncOptions, any))).toEqual(Options.fromPartial({ binaryName: "runsc" }))
  })
  it("does the same for the legacy runc v1 shim, which reads the same options", () => {
    const any = runtimeOptions({ name: "io.containerd.runc.v1", binaryName: "crun" })
    expect(Either.getOrThrow(unpack(AnyTypes.RuncOptions, any)).binaryName).toBe("crun")
  })
  it("sends no options without a binary name", () => {
    expect(runtimeOptions({ name: "io.containerd.runc.v2" })).toBeUndefined()
    expect(runtimeOptions({ name: "io.containerd.runc.v2", binaryName: "" })).toBeUndefined()
  })
  it("sends no runc options to another shim", () => {
    expect(runtimeOptions({ name: "io.containerd.runsc.v1" })).toBeUndefined()
    expect(runtimeOptions({ name: "io.containerd.kata.v2", binaryName: "runsc" })).toBeUndefined()
    expect(runtimeOptions({ name: "/opt/shims/containerd-shim-kata-v2" })).toBeUndefined()
  })
  it("follows from the task's runtime as containerdRuntime reads it", () => {
    const runtime = (name: string) =>
      Either.getOrThrow(containerdRuntime({ driver: baseDriver(), task: { ...baseTask(), runtime: name } }))
    expect(Either.getOrThrow(unpack(AnyTypes.RuncOptions, runtimeOptions(runtime("runsc")))).binaryName).toBe("runsc")
    expect(runtimeOptions(runtime("io.containerd.runsc.v1"))).toBeUndefined()
  })
})
