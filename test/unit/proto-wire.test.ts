// Pins the wire facts of the Nomad / go-plugin protos that a Go host depends on: field numbers,
// 64-bit handling, enum numbers and gRPC method paths / streaming shapes.
import { describe, expect, it } from "vitest"
import { Any } from "../../src/gen/google/protobuf/any.js"
import { Status } from "../../src/gen/google/rpc/status.js"
import { HealthService } from "../../src/gen/grpc/health/v1/health.js"
import { GRPCControllerService } from "../../src/gen/plugin/grpc_controller.js"
import { BasePluginService, NomadDriverConfig } from "../../src/gen/plugins/base/proto/base.js"
import {
  DriverService,
  FingerprintResponse,
  FingerprintResponse_HealthState,
  LinuxResources
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"
import { Attribute } from "../../src/gen/plugins/shared/structs/proto/attribute.js"
import { RecoverableError } from "../../src/gen/plugins/shared/structs/proto/recoverable_error.js"

describe("hclspec Spec", () => {
  it("encodes the Attr case as field 3 and decodes it back", () => {
    const spec = Spec.fromPartial({ block: { $case: "Attr", value: { name: "image", type: "string", required: true } } })
    const bytes = Spec.encode(spec).finish()
    // tag = (3 << 3) | length-delimited
    expect(bytes[0]).toBe(0x1a)
    expect(bytes[1]).toBe(bytes.length - 2)
    expect(Spec.decode(bytes)).toEqual(spec)
  })

  it("encodes block_value as field 4", () => {
    const spec = Spec.fromPartial({ block: { $case: "blockValue", value: { name: "auth", required: false } } })
    expect(Spec.encode(spec).finish()[0]).toBe(0x22)
  })
})

describe("shared structs", () => {
  it("round-trips an int_val of 2^60 as an exact bigint", () => {
    const big = 2n ** 60n
    const bytes = Attribute.encode(Attribute.fromPartial({ value: { $case: "intVal", value: big }, unit: "MB" })).finish()
    // tag = (2 << 3) | varint
    expect(bytes[0]).toBe(0x10)
    const decoded = Attribute.decode(bytes)
    expect(decoded.value?.$case).toBe("intVal")
    expect(typeof decoded.value?.value).toBe("bigint")
    expect(decoded.value?.value).toBe(big)
    expect(decoded.unit).toBe("MB")
  })

  it("carries a RecoverableError as the first detail of a google.rpc.Status", () => {
    const detail = Any.fromPartial({
      typeUrl: "type.googleapis.com/hashicorp.nomad.plugins.shared.structs.RecoverableError",
      value: Buffer.from(RecoverableError.encode({ recoverable: true }).finish())
    })
    const bytes = Status.encode(Status.fromPartial({ code: 9, message: "image pull failed", details: [detail] })).finish()
    const decoded = Status.decode(bytes)
    expect(decoded.code).toBe(9)
    expect(decoded.details).toHaveLength(1)
    expect(RecoverableError.decode(decoded.details[0]!.value).recoverable).toBe(true)
  })
})

describe("driver and base messages", () => {
  it("encodes FingerprintResponse health HEALTHY as field 2 = 2", () => {
    const bytes = FingerprintResponse.encode(
      FingerprintResponse.fromPartial({ health: FingerprintResponse_HealthState.HEALTHY })
    ).finish()
    expect(Array.from(bytes)).toEqual([0x10, 0x02])
  })

  it("encodes LinuxResources.PercentTicks as a double in field 8", () => {
    const bytes = LinuxResources.encode(LinuxResources.fromPartial({ PercentTicks: 0.5 })).finish()
    // tag = (8 << 3) | 64-bit
    expect(bytes[0]).toBe(0x41)
    expect(LinuxResources.decode(bytes).PercentTicks).toBe(0.5)
  })

  it("encodes NomadDriverConfig.ClientMaxPort in field 1 and ClientMinPort in field 2", () => {
    const bytes = NomadDriverConfig.encode(NomadDriverConfig.fromPartial({ ClientMaxPort: 14512, ClientMinPort: 14000 })).finish()
    expect(bytes[0]).toBe(0x08)
    const decoded = NomadDriverConfig.decode(bytes)
    expect(decoded.ClientMaxPort).toBe(14512)
    expect(decoded.ClientMinPort).toBe(14000)
  })
})

describe("gRPC service definitions", () => {
  it("use the method paths the Go host calls", () => {
    expect(DriverService.startTask.path).toBe("/hashicorp.nomad.plugins.drivers.proto.Driver/StartTask")
    expect(BasePluginService.setConfig.path).toBe("/hashicorp.nomad.plugins.base.proto.BasePlugin/SetConfig")
    expect(GRPCControllerService.shutdown.path).toBe("/plugin.GRPCController/Shutdown")
    expect(HealthService.check.path).toBe("/grpc.health.v1.Health/Check")
  })

  it("declare Fingerprint as server streaming and ExecTaskStreaming as bidirectional", () => {
    expect(DriverService.fingerprint.requestStream).toBe(false)
    expect(DriverService.fingerprint.responseStream).toBe(true)
    expect(DriverService.execTaskStreaming.requestStream).toBe(true)
    expect(DriverService.execTaskStreaming.responseStream).toBe(true)
    expect(DriverService.startTask.requestStream).toBe(false)
    expect(DriverService.startTask.responseStream).toBe(false)
  })
})
