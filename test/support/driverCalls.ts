/**
 * The Driver RPCs a Nomad client makes, as promises over a launched plugin's gRPC client
 * (test/support/PluginProcess.ts), with Nomad's argument shapes: durations, handles kept between calls.
 */
import * as grpc from "@grpc/grpc-js"
import type { Duration } from "../../src/gen/google/protobuf/duration.js"
import type {
  DriverClient,
  ExecTaskResponse,
  ExitResult,
  InspectTaskResponse,
  TaskConfig,
  TaskHandle
} from "../../src/gen/plugins/drivers/proto/driver.js"

const duration = (ms: number): Duration => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 })

const call = <Req, Res>(
  client: DriverClient,
  method: (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
  request: Req,
  deadlineMs?: number
): Promise<Res> =>
  new Promise((resolve, reject) => {
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }
    method.call(client, request, new grpc.Metadata(), options, (error, response) => (error ? reject(error) : resolve(response)))
  })

export interface DriverCalls {
  readonly start: (task: TaskConfig) => Promise<TaskHandle>
  readonly recover: (handle: TaskHandle) => Promise<void>
  readonly wait: (id: string, deadlineMs?: number) => Promise<{ readonly result: ExitResult; readonly err: string }>
  readonly stop: (id: string, timeoutMs: number, signal?: string) => Promise<void>
  readonly destroy: (id: string) => Promise<void>
  readonly inspect: (id: string) => Promise<InspectTaskResponse>
  readonly signal: (id: string, signal: string) => Promise<void>
  readonly exec: (id: string, command: ReadonlyArray<string>, timeoutMs?: number) => Promise<ExecTaskResponse>
}

export const driverCalls = (driver: DriverClient): DriverCalls => ({
  start: async (task) => {
    const response = await call(driver, driver.startTask, { task })
    if (response.handle === undefined) throw new Error("StartTask answered without a handle")
    return response.handle
  },
  recover: async (handle) => {
    await call(driver, driver.recoverTask, { taskId: "", handle })
  },
  wait: async (id, deadlineMs) => {
    const response = await call(driver, driver.waitTask, { taskId: id }, deadlineMs)
    if (response.result === undefined) throw new Error("WaitTask answered without a result")
    return { result: response.result, err: response.err }
  },
  stop: async (id, timeoutMs, signal = "") => {
    await call(driver, driver.stopTask, { taskId: id, timeout: duration(timeoutMs), signal })
  },
  destroy: async (id) => {
    await call(driver, driver.destroyTask, { taskId: id, force: true })
  },
  inspect: (id) => call(driver, driver.inspectTask, { taskId: id }),
  signal: async (id, signal) => {
    await call(driver, driver.signalTask, { taskId: id, signal })
  },
  exec: (id, command, timeoutMs = 0) =>
    call(driver, driver.execTask, { taskId: id, command: [...command], timeout: duration(timeoutMs) })
})
