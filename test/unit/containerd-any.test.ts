// containerd's Any conventions: bare type URLs, JSON for runtime-spec payloads, protobuf for the rest, and typed
// failures for a wrong type URL or undecodable bytes.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { AnyTypes, isType, pack, unpack } from "../../src/containerd/any.js"
import { Metrics as V2Metrics } from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import { Options } from "../../src/gen/github.com/containerd/containerd/api/types/runc/options/oci.js"

describe("Any packing", () => {
  it("packs runc options with the bare URL containerd 1.6 requires", () => {
    const any = Either.getOrThrow(pack(AnyTypes.RuncOptions, Options.fromPartial({ binaryName: "crun", systemdCgroup: true })))
    expect(any.typeUrl).toBe("containerd.runc.v1.Options")
    expect(any.typeUrl).not.toContain("type.googleapis.com")
    expect(Options.decode(any.value)).toEqual(Options.fromPartial({ binaryName: "crun", systemdCgroup: true }))
  })

  it("packs runtime-spec payloads as UTF-8 JSON under the registered URLs", () => {
    const spec = { ociVersion: "1.0.2-dev", process: { args: ["sh", "-c", "echo ü"] } }
    const any = Either.getOrThrow(pack(AnyTypes.Spec, spec))
    expect(any.typeUrl).toBe("types.containerd.io/opencontainers/runtime-spec/1/Spec")
    expect(JSON.parse(any.value.toString("utf8"))).toEqual(spec)
    expect(AnyTypes.Process.typeUrl).toBe("types.containerd.io/opencontainers/runtime-spec/1/Process")
    expect(AnyTypes.LinuxResources.typeUrl).toBe("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources")
  })

  it("round-trips cgroup v2 metrics with 64-bit counters above 2^53", () => {
    const limit = 9223372036854771712n
    const metrics = V2Metrics.fromPartial({ memory: { usage: 123n, usageLimit: limit }, cpu: { usageUsec: 5n } })
    const any = Either.getOrThrow(pack(AnyTypes.CgroupV2Metrics, metrics))
    expect(any.typeUrl).toBe("io.containerd.cgroups.v2.Metrics")
    const back = Either.getOrThrow(unpack(AnyTypes.CgroupV2Metrics, any))
    expect(back.memory?.usageLimit).toBe(limit)
    expect(back).toEqual(metrics)
  })

  it("refuses to unpack another type, and accepts the prefixed spelling of the same type", () => {
    const any = Either.getOrThrow(pack(AnyTypes.CgroupV1Metrics, { hugetlb: [], network: [] } as never))
    const mismatch = unpack(AnyTypes.CgroupV2Metrics, any)
    expect(Either.isLeft(mismatch) && mismatch.left.reason).toBe("TypeMismatch")
    expect(isType(AnyTypes.CgroupV1Metrics, { ...any, typeUrl: `type.googleapis.com/${any.typeUrl}` })).toBe(true)
    expect(Either.isLeft(unpack(AnyTypes.Spec, undefined))).toBe(true)
  })

  it("reports malformed payloads and unencodable values as AnyError", () => {
    const bad = unpack(AnyTypes.Spec, { typeUrl: AnyTypes.Spec.typeUrl, value: Buffer.from("{not json") })
    expect(Either.isLeft(bad) && bad.left.reason).toBe("Malformed")
    const garbage = unpack(AnyTypes.RuncOptions, { typeUrl: AnyTypes.RuncOptions.typeUrl, value: Buffer.from([0xff, 0xff, 0xff]) })
    expect(Either.isLeft(garbage) && garbage.left._tag).toBe("AnyError")
    const unencodable = pack(AnyTypes.Spec, { size: 1n })
    expect(Either.isLeft(unencodable) && unencodable.left.reason).toBe("Malformed")
  })
})
