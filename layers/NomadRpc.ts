/**
 * Nomad's BasePlugin and Driver gRPC services as thin adapters onto the driver's services: decode
 * the request, call the service, map its typed errors to a gRPC status.
 */
import * as grpc from "@grpc/grpc-js"
import { Duration, Effect, Stream } from "effect"
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
import {
  type DestroyTaskRequest,
  DriverService,
  type ExecTaskRequest,
  type ExecTaskStreamingRequest,
  type ExecTaskResponse,
  type InspectTaskRequest,
  type InspectTaskResponse,
  type RecoverTaskRequest,
  type SignalTaskRequest,
  type StartTaskRequest,
  type StartTaskResponse,
  StartTaskResponse_Result,
  type StopTaskRequest,
  type TaskConfigSchemaResponse,
  type TaskStatsRequest,
  type TaskStatsResponse,
  type WaitTaskRequest,
  type WaitTaskResponse
} from "../src/gen/plugins/drivers/proto/driver.js"
import type { Duration as DurationPb } from "../src/gen/google/protobuf/duration.js"
import { capabilities } from "../src/plugin/Capabilities.js"
import { apiVersions, pluginName, pluginVersion } from "../src/plugin/Version.js"
import { Exec } from "./Exec.js"
import { Fingerprinter } from "./Fingerprinter.js"
import { type Bridge, RpcStatus, type ServiceBinding } from "./GrpcServer.js"
import { NodeConfig } from "./NodeConfig.js"
import { Stats } from "./Stats.js"
import { TaskEvents } from "./TaskEvents.js"
import { type TaskError, Tasks } from "./Tasks.js"

/** Everything the handlers reach. */
export type Services = NodeConfig | Fingerprinter | TaskEvents | Tasks | Exec | Stats

const pluginInfo: PluginInfoResponse = {
  type: PluginType.DRIVER,
  pluginApiVersions: apiVersions,
  pluginVersion,
  name: pluginName
}
const configSchema: ConfigSchemaResponse = { spec: hclSpec(driverOptions) }
const taskConfigSchema: TaskConfigSchemaResponse = { spec: hclSpec(taskOptions) }

/** Nomad calls CreateNetwork and DestroyNetwork only for drivers with must_create_network, which this is not. */
const notUsed = (rpc: string) => () =>
  Effect.fail(
    new RpcStatus({
      code: grpc.status.UNIMPLEMENTED,
      message: `${rpc} is not used by ${pluginName}: Nomad creates the group network namespace itself`
    })
  )

const codeOf = (error: TaskError): grpc.status => {
  switch (error.reason) {
    case "UnknownTask":
      return grpc.status.NOT_FOUND
    case "InvalidSignal":
    case "InvalidConfig":
      return grpc.status.INVALID_ARGUMENT
    default:
      // Not UNAVAILABLE even for containerd outages: Nomad would take that for a dead plugin.
      return grpc.status.FAILED_PRECONDITION
  }
}

/** Task errors as gRPC statuses; StartTask's carry Nomad's RecoverableError detail. */
const toStatus = (options: { readonly recoverable: boolean }) => (error: TaskError) =>
  new RpcStatus({
    code: options.recoverable ? grpc.status.FAILED_PRECONDITION : codeOf(error),
    message: error.message,
    ...(options.recoverable ? { recoverable: error.recoverable } : {})
  })
const plainStatus = toStatus({ recoverable: false })

const millis = (duration: DurationPb | undefined): number =>
  duration === undefined ? 0 : Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1e6)

const withTasks = <A>(f: (tasks: Tasks["Type"]) => Effect.Effect<A, TaskError>) =>
  Effect.flatMap(Tasks, f).pipe(Effect.mapError(plainStatus))

export const services = (bridge: Bridge<Services>): ReadonlyArray<ServiceBinding> => [
  {
    definition: BasePluginService,
    implementation: {
      pluginInfo: bridge.unary(() => Effect.succeed(pluginInfo)),
      configSchema: bridge.unary(() => Effect.succeed(configSchema)),
      setConfig: bridge.unary((request: SetConfigRequest) =>
        Effect.flatMap(NodeConfig, (node) => node.setConfig(request.msgpackConfig, request.nomadConfig?.driver)).pipe(
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
      capabilities: bridge.unary(() => Effect.succeed({ capabilities })),
      fingerprint: bridge.serverStream(() => Stream.unwrap(Effect.map(Fingerprinter, (f) => f.stream))),
      taskEvents: bridge.serverStream(() => Stream.unwrap(Effect.map(TaskEvents, (events) => events.stream))),
      startTask: bridge.unary((request: StartTaskRequest) =>
        Effect.gen(function*() {
          const tasks = yield* Tasks
          if (request.task === undefined) {
            return yield* new RpcStatus({ code: grpc.status.INVALID_ARGUMENT, message: "StartTask without a task", recoverable: false })
          }
          const started = yield* tasks.start(request.task).pipe(Effect.mapError(toStatus({ recoverable: true })))
          const response: StartTaskResponse = {
            result: StartTaskResponse_Result.SUCCESS,
            driverErrorMsg: "",
            handle: started.handle,
            networkOverride: undefined
          }
          return response
        })
      ),
      recoverTask: bridge.unary((request: RecoverTaskRequest) =>
        request.handle === undefined
          ? Effect.fail(new RpcStatus({ code: grpc.status.INVALID_ARGUMENT, message: "RecoverTask without a handle" }))
          : withTasks((tasks) => tasks.recover(request.handle!)).pipe(Effect.as({}))
      ),
      waitTask: bridge.unary((request: WaitTaskRequest) =>
        withTasks((tasks) => tasks.wait(request.taskId)).pipe(
          Effect.map(({ err, ...result }): WaitTaskResponse => ({ result, err }))
        )
      ),
      stopTask: bridge.unary((request: StopTaskRequest) =>
        withTasks((tasks) => tasks.stop(request.taskId, millis(request.timeout), request.signal)).pipe(Effect.as({}))
      ),
      destroyTask: bridge.unary((request: DestroyTaskRequest) =>
        withTasks((tasks) => tasks.destroy(request.taskId, request.force)).pipe(Effect.as({}))
      ),
      inspectTask: bridge.unary((request: InspectTaskRequest) =>
        withTasks((tasks) => tasks.inspect(request.taskId)).pipe(
          Effect.map(({ attributes, status }): InspectTaskResponse => ({
            task: status,
            driver: { attributes },
            networkOverride: undefined
          }))
        )
      ),
      signalTask: bridge.unary((request: SignalTaskRequest) =>
        withTasks((tasks) => tasks.signal(request.taskId, request.signal)).pipe(Effect.as({}))
      ),
      execTask: bridge.unary((request: ExecTaskRequest) => {
        const timeout = millis(request.timeout)
        return Effect.flatMap(Exec, (exec) =>
          exec.run(request.taskId, request.command, timeout > 0 ? Duration.millis(timeout) : undefined)
        ).pipe(
          Effect.mapError(plainStatus),
          Effect.map(({ result: { err: _err, ...result }, stderr, stdout }): ExecTaskResponse => ({ stdout, stderr, result }))
        )
      }),
      taskStats: bridge.serverStream((request: TaskStatsRequest) =>
        Stream.unwrap(Effect.map(Stats, (stats) => {
          const interval = millis(request.collectionInterval)
          return stats.stream(request.taskId, interval > 0 ? Duration.millis(interval) : undefined).pipe(
            Stream.map((sample): TaskStatsResponse => ({ stats: sample })),
            Stream.mapError(plainStatus)
          )
        }))
      ),
      execTaskStreaming: bridge.duplex((requests: Stream.Stream<ExecTaskStreamingRequest>) =>
        Stream.unwrap(Effect.map(Exec, (exec) => exec.streaming(requests))).pipe(Stream.mapError(plainStatus))
      ),
      createNetwork: bridge.unary(notUsed("CreateNetwork")),
      destroyNetwork: bridge.unary(notUsed("DestroyNetwork"))
    }
  }
]
