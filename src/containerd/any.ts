/**
 * `google.protobuf.Any` as containerd uses it: type URLs are bare names (no `type.googleapis.com/`
 * prefix — containerd 1.6 rejects prefixed URLs), runtime-spec payloads are JSON, everything else
 * protobuf. Each payload kind is an `AnyType` pairing the URL with its codec, so a URL can never be
 * packed with the wrong encoding.
 */
import type { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire"
import { Data, Either } from "effect"
import * as Cgroup1 from "../gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import * as ContainerEvents from "../gen/github.com/containerd/containerd/api/events/container.js"
import * as TaskEvents from "../gen/github.com/containerd/containerd/api/events/task.js"
import * as Runc from "../gen/github.com/containerd/containerd/api/types/runc/options/oci.js"
import type { Any } from "../gen/google/protobuf/any.js"

export class AnyError extends Data.TaggedError("AnyError")<{
  readonly reason: "TypeMismatch" | "Malformed"
  readonly message: string
  readonly cause?: unknown
}> {}

/** A payload kind that can travel in an Any: its bare type URL and its codec. */
export interface AnyType<T> {
  readonly typeUrl: string
  readonly encode: (value: T) => Uint8Array
  readonly decode: (bytes: Uint8Array) => T
}

interface ProtoCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter
  decode(input: BinaryReader | Uint8Array, length?: number): T
}

/** A protobuf payload (runc options, cgroup metrics, events). */
export const protoType = <T>(typeUrl: string, codec: ProtoCodec<T>): AnyType<T> => ({
  typeUrl,
  encode: (value) => codec.encode(value).finish(),
  decode: (bytes) => codec.decode(bytes)
})

/** A JSON payload (OCI runtime-spec objects). The value is encoded as UTF-8 JSON. */
export const jsonType = <T = unknown>(typeUrl: string): AnyType<T> => ({
  typeUrl,
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as T
})

const runtimeSpec = "types.containerd.io/opencontainers/runtime-spec/1"

/** The payload kinds the driver exchanges with containerd. */
export const AnyTypes = {
  /** OCI runtime spec of a container (Container.spec); written verbatim as the bundle's config.json. */
  Spec: jsonType<unknown>(`${runtimeSpec}/Spec`),
  /** OCI process of an exec (Tasks.Exec spec). */
  Process: jsonType<unknown>(`${runtimeSpec}/Process`),
  /** OCI LinuxResources (Tasks.Update resources). */
  LinuxResources: jsonType<unknown>(`${runtimeSpec}/LinuxResources`),
  RuncOptions: protoType("containerd.runc.v1.Options", Runc.Options),
  RuncCheckpointOptions: protoType("containerd.runc.v1.CheckpointOptions", Runc.CheckpointOptions),
  RuncProcessDetails: protoType("containerd.runc.v1.ProcessDetails", Runc.ProcessDetails),
  CgroupV1Metrics: protoType("io.containerd.cgroups.v1.Metrics", Cgroup1.Metrics),
  CgroupV2Metrics: protoType("io.containerd.cgroups.v2.Metrics", Cgroup2.Metrics),
  TaskCreate: protoType("containerd.events.TaskCreate", TaskEvents.TaskCreate),
  TaskStart: protoType("containerd.events.TaskStart", TaskEvents.TaskStart),
  TaskExit: protoType("containerd.events.TaskExit", TaskEvents.TaskExit),
  TaskDelete: protoType("containerd.events.TaskDelete", TaskEvents.TaskDelete),
  TaskOOM: protoType("containerd.events.TaskOOM", TaskEvents.TaskOOM),
  TaskExecAdded: protoType("containerd.events.TaskExecAdded", TaskEvents.TaskExecAdded),
  TaskExecStarted: protoType("containerd.events.TaskExecStarted", TaskEvents.TaskExecStarted),
  TaskPaused: protoType("containerd.events.TaskPaused", TaskEvents.TaskPaused),
  TaskResumed: protoType("containerd.events.TaskResumed", TaskEvents.TaskResumed),
  TaskCheckpointed: protoType("containerd.events.TaskCheckpointed", TaskEvents.TaskCheckpointed),
  ContainerCreate: protoType("containerd.events.ContainerCreate", ContainerEvents.ContainerCreate),
  ContainerUpdate: protoType("containerd.events.ContainerUpdate", ContainerEvents.ContainerUpdate),
  ContainerDelete: protoType("containerd.events.ContainerDelete", ContainerEvents.ContainerDelete)
} as const

// Other protobuf libraries prefix URLs; accept that form when reading, never produce it.
const googlePrefix = "type.googleapis.com/"

/** Whether `any` carries a payload of `type`. */
export const isType = <T>(type: AnyType<T>, any: Any | undefined): boolean =>
  any !== undefined && (any.typeUrl === type.typeUrl || any.typeUrl === googlePrefix + type.typeUrl)

/** Packs a value with its bare type URL. Fails only when the value cannot be encoded (e.g. bigint in JSON). */
export const pack = <T>(type: AnyType<T>, value: T): Either.Either<Any, AnyError> =>
  Either.try({
    try: () => ({ typeUrl: type.typeUrl, value: Buffer.from(type.encode(value)) }),
    catch: (cause) =>
      new AnyError({ reason: "Malformed", message: `cannot encode ${type.typeUrl}: ${String(cause)}`, cause })
  })

/** Unpacks an Any, checking its type URL first. */
export const unpack = <T>(type: AnyType<T>, any: Any | undefined): Either.Either<T, AnyError> => {
  if (any === undefined) {
    return Either.left(new AnyError({ reason: "TypeMismatch", message: `expected ${type.typeUrl}, got no value` }))
  }
  if (!isType(type, any)) {
    return Either.left(
      new AnyError({ reason: "TypeMismatch", message: `expected ${type.typeUrl}, got ${any.typeUrl || "(empty type URL)"}` })
    )
  }
  return Either.try({
    try: () => type.decode(any.value),
    catch: (cause) =>
      new AnyError({ reason: "Malformed", message: `cannot decode ${type.typeUrl}: ${String(cause)}`, cause })
  })
}
