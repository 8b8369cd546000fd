/**
 * Nomad's BasePlugin and Driver gRPC services as thin adapters onto the driver's services: decode
 * the request, call the service, map its typed errors to a gRPC status.
 */
import * as grpc from "@grpc/grpc-js"
import { Effect, Stream } from "effect"
import { driverOptions } from "../src/config/DriverConfig.js"
import { hclSpec } from "../src/config/HclSpec.js"
import { taskOptions } from "../src/config/TaskConfig.js"
import {
  BasePluginService,
  type ConfigSchemaResponse,
  type PluginInfoResponse,
  PluginType,
  type SetConfigRequest
} from "../src/gen/plugins/base/proto/base.js"
import { DriverService, type TaskConfigSchemaResponse } from "../src/gen/plugins/drivers/proto/driver.js"
import { apiVersions, pluginName, pluginVersion } from "../src/plugin/Version.js"
import { Driver } from "./Driver.js"
import { type Bridge, RpcStatus, type ServiceBinding } from "./GrpcServer.js"


const pluginInfo: PluginInfoResponse = {
  type: PluginType.DRIVER,
  pluginApiVersions: apiVersions,
  pluginVersion,
  name: pluginName
}
const configSchema: ConfigSchemaResponse = { spec: hclSpec(driverOptions) }
const taskConfigSchema: TaskConfigSchemaResponse = { spec: hclSpec(taskOptions) }

const notYet = (rpc: string) => () =>
  Effect.fail(
    new RpcStatus({
      code: grpc.status.UNIMPLEMENTED,
      message: `${rpc} is not implemented yet in ${pluginName} ${pluginVersion}`
    })
  )

export const services = (bridge: Bridge<Driver>): ReadonlyArray<ServiceBinding> => [
  {
    definition: BasePluginService,
    implementation: {
      pluginInfo: bridge.unary(() => Effect.succeed(pluginInfo)),
      configSchema: bridge.unary(() => Effect.succeed(configSchema)),
      setConfig: bridge.unary((request: SetConfigRequest) =>
        Effect.flatMap(Driver, (driver) => driver.setConfig(request.msgpackConfig)).pipe(
          Effect.mapError((error) => new RpcStatus({ code: grpc.status.INVALID_ARGUMENT, message: error.message })),
          Effect.as({})
        )
      )
    }
  },
  {
    definition: DriverService,
    implementation: {
      init: bridge.unary(() => Effect.succeed({})),
      shutdown: bridge.unary(() => Effect.succeed({})),
      taskConfigSchema: bridge.unary(() => Effect.succeed(taskConfigSchema)),
      capabilities: bridge.unary(() => Effect.map(Driver, (driver) => ({ capabilities: driver.capabilities }))),
      fingerprint: bridge.serverStream(() => Stream.unwrap(Effect.map(Driver, (driver) => driver.fingerprint))),
      taskEvents: bridge.serverStream(() => Stream.unwrap(Effect.map(Driver, (driver) => driver.taskEvents))),
      recoverTask: bridge.unary(notYet("RecoverTask")),
      startTask: bridge.unary(notYet("StartTask")),
      waitTask: bridge.unary(notYet("WaitTask")),
      stopTask: bridge.unary(notYet("StopTask")),
      destroyTask: bridge.unary(notYet("DestroyTask")),
      inspectTask: bridge.unary(notYet("InspectTask")),
      taskStats: bridge.serverStream(() => Stream.unwrap(notYet("TaskStats")())),
      signalTask: bridge.unary(notYet("SignalTask")),
      execTask: bridge.unary(notYet("ExecTask")),
      execTaskStreaming: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: `ExecTaskStreaming is not implemented yet in ${pluginName} ${pluginVersion}` }),
      createNetwork: bridge.unary(notYet("CreateNetwork")),
      destroyNetwork: bridge.unary(notYet("DestroyNetwork"))
    }
  }
]
