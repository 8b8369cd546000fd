/**
 * Containerd: typed access to the containerd gRPC API over its unix socket (grpc-js). The surface is a
 * thin mapping of the RPCs (requests are the generated messages with every field optional; responses
 * are the generated messages); helpers exist only where protocol knowledge belongs: namespace and
 * lease headers, scoped leases, streaming a blob into the content store, error mapping, and a
 * `describe` summary for the plugin's fingerprint. FakeContainerd implements the same interface.
 */
import * as grpc from "@grpc/grpc-js"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import * as ContainersPb from "../src/gen/github.com/containerd/containerd/api/services/containers/v1/containers.js"
import * as ContentPb from "../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import * as DiffPb from "../src/gen/github.com/containerd/containerd/api/services/diff/v1/diff.js"
import * as EventsPb from "../src/gen/github.com/containerd/containerd/api/services/events/v1/events.js"
import * as ImagesPb from "../src/gen/github.com/containerd/containerd/api/services/images/v1/images.js"
import * as IntrospectionPb from "../src/gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js"
import * as LeasesPb from "../src/gen/github.com/containerd/containerd/api/services/leases/v1/leases.js"
import * as NamespacesPb from "../src/gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace.js"
import * as SnapshotsPb from "../src/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js"
import * as TasksPb from "../src/gen/github.com/containerd/containerd/api/services/tasks/v1/tasks.js"
import * as VersionPb from "../src/gen/github.com/containerd/containerd/api/services/version/v1/version.js"
import type { Envelope } from "../src/gen/github.com/containerd/containerd/api/types/event.js"
import { Empty } from "../src/gen/google/protobuf/empty.js"
import * as HealthPb from "../src/gen/grpc/health/v1/health.js"
import type { ContainerdError } from "./containerd/ContainerdError.js"
import { type WriteBlobOptions, type WriteBlobResult, writeBlob } from "./containerd/contentWrite.js"
import { type ContainerdDescription, describeFrom, type LeaseOptions, makeWithLease, requireEventPayload } from "./containerd/derived.js"
import { makeH2Duplex } from "./containerd/h2Duplex.js"
import { blockingCall, globalCall, makeRpc, namespacedCall, type ServerStream, type Unary } from "./containerd/rpc.js"

export { currentLease, currentNamespace, inLease, inNamespace } from "./containerd/callContext.js"
export {
  ContainerdError,
  type ContainerdErrorReason,
  fromGrpcError,
  reasonFromCode
} from "./containerd/ContainerdError.js"
export { maxWriteChunk, type WriteBlobOptions, type WriteBlobResult } from "./containerd/contentWrite.js"
export {
  type ContainerdDescription,
  gcExpireLabel,
  type LeaseOptions,
  type SnapshotterStatus
} from "./containerd/derived.js"
export type { RequestInput, ServerStream, Unary } from "./containerd/rpc.js"

export interface ContainerdOptions {
  /** Socket path (e.g. /run/containerd/containerd.sock) or a "unix://" target. */
  readonly address: string
  /** Default namespace of namespaced calls (override per block with `inNamespace`). */
  readonly namespace: string
  readonly timeouts?: {
    /** Deadline of ordinary unary calls (not Tasks.Wait, Diff.Apply or streams). Default 1 minute. */
    readonly call?: Duration.DurationInput
    /** Upper bound of grpc-js's reconnect backoff while containerd is down. Default 5 seconds. */
    readonly reconnectBackoffMax?: Duration.DurationInput
  }
}

export interface IntrospectionApi {
  readonly plugins: Unary<IntrospectionPb.PluginsRequest, IntrospectionPb.PluginsResponse>
  readonly server: Effect.Effect<IntrospectionPb.ServerResponse, ContainerdError>
  /** Late 1.7.x and 2.x; Unimplemented on 1.6. */
  readonly pluginInfo: Unary<IntrospectionPb.PluginInfoRequest, IntrospectionPb.PluginInfoResponse>
}

/** Namespace records (global); calls carry the current namespace header, which containerd uses for events. */
export interface NamespacesApi {
  readonly get: Unary<NamespacesPb.GetNamespaceRequest, NamespacesPb.GetNamespaceResponse>
  readonly list: Unary<NamespacesPb.ListNamespacesRequest, NamespacesPb.ListNamespacesResponse>
  readonly create: Unary<NamespacesPb.CreateNamespaceRequest, NamespacesPb.CreateNamespaceResponse>
  readonly update: Unary<NamespacesPb.UpdateNamespaceRequest, NamespacesPb.UpdateNamespaceResponse>
  readonly delete: Unary<NamespacesPb.DeleteNamespaceRequest, Empty>
}

export interface LeasesApi {
  readonly create: Unary<LeasesPb.CreateRequest, LeasesPb.CreateResponse>
  readonly delete: Unary<LeasesPb.DeleteRequest, Empty>
  readonly list: Unary<LeasesPb.ListRequest, LeasesPb.ListResponse>
  readonly addResource: Unary<LeasesPb.AddResourceRequest, Empty>
  readonly deleteResource: Unary<LeasesPb.DeleteResourceRequest, Empty>
  readonly listResources: Unary<LeasesPb.ListResourcesRequest, LeasesPb.ListResourcesResponse>
}

export interface ContentApi {
  readonly info: Unary<ContentPb.InfoRequest, ContentPb.InfoResponse>
  readonly update: Unary<ContentPb.UpdateRequest, ContentPb.UpdateResponse>
  readonly list: ServerStream<ContentPb.ListContentRequest, ContentPb.ListContentResponse>
  readonly delete: Unary<ContentPb.DeleteContentRequest, Empty>
  readonly read: ServerStream<ContentPb.ReadContentRequest, ContentPb.ReadContentResponse>
  readonly status: Unary<ContentPb.StatusRequest, ContentPb.StatusResponse>
  readonly listStatuses: Unary<ContentPb.ListStatusesRequest, ContentPb.ListStatusesResponse>
  /**
   * Streams one blob into the content store (Content.Write STAT → WRITE… → COMMIT) in the current
   * namespace and lease. Succeeds with `alreadyExists` when containerd has the blob already;
   * a size/digest mismatch fails with FailedPrecondition (the ingest is aborted).
   */
  readonly write: <E, R>(options: WriteBlobOptions<E, R>) => Effect.Effect<WriteBlobResult, ContainerdError | E, R>
  readonly abort: Unary<ContentPb.AbortRequest, Empty>
}

export interface ImagesApi {
  readonly get: Unary<ImagesPb.GetImageRequest, ImagesPb.GetImageResponse>
  readonly list: Unary<ImagesPb.ListImagesRequest, ImagesPb.ListImagesResponse>
  readonly create: Unary<ImagesPb.CreateImageRequest, ImagesPb.CreateImageResponse>
  readonly update: Unary<ImagesPb.UpdateImageRequest, ImagesPb.UpdateImageResponse>
  readonly delete: Unary<ImagesPb.DeleteImageRequest, Empty>
}

export interface SnapshotsApi {
  readonly prepare: Unary<SnapshotsPb.PrepareSnapshotRequest, SnapshotsPb.PrepareSnapshotResponse>
  readonly view: Unary<SnapshotsPb.ViewSnapshotRequest, SnapshotsPb.ViewSnapshotResponse>
  readonly mounts: Unary<SnapshotsPb.MountsRequest, SnapshotsPb.MountsResponse>
  readonly commit: Unary<SnapshotsPb.CommitSnapshotRequest, Empty>
  readonly remove: Unary<SnapshotsPb.RemoveSnapshotRequest, Empty>
  readonly stat: Unary<SnapshotsPb.StatSnapshotRequest, SnapshotsPb.StatSnapshotResponse>
  readonly update: Unary<SnapshotsPb.UpdateSnapshotRequest, SnapshotsPb.UpdateSnapshotResponse>
  readonly list: ServerStream<SnapshotsPb.ListSnapshotsRequest, SnapshotsPb.ListSnapshotsResponse>
  readonly usage: Unary<SnapshotsPb.UsageRequest, SnapshotsPb.UsageResponse>
  readonly cleanup: Unary<SnapshotsPb.CleanupRequest, Empty>
}

export interface DiffApi {
  /** No deadline: applying a large layer can take long (bound it with Effect.timeout). */
  readonly apply: Unary<DiffPb.ApplyRequest, DiffPb.ApplyResponse>
  readonly diff: Unary<DiffPb.DiffRequest, DiffPb.DiffResponse>
}

export interface ContainersApi {
  readonly get: Unary<ContainersPb.GetContainerRequest, ContainersPb.GetContainerResponse>
  readonly list: Unary<ContainersPb.ListContainersRequest, ContainersPb.ListContainersResponse>
  readonly listStream: ServerStream<ContainersPb.ListContainersRequest, ContainersPb.ListContainerMessage>
  readonly create: Unary<ContainersPb.CreateContainerRequest, ContainersPb.CreateContainerResponse>
  readonly update: Unary<ContainersPb.UpdateContainerRequest, ContainersPb.UpdateContainerResponse>
  readonly delete: Unary<ContainersPb.DeleteContainerRequest, Empty>
}

export interface TasksApi {
  readonly create: Unary<TasksPb.CreateTaskRequest, TasksPb.CreateTaskResponse>
  readonly start: Unary<TasksPb.StartRequest, TasksPb.StartResponse>
  readonly delete: Unary<TasksPb.DeleteTaskRequest, TasksPb.DeleteResponse>
  readonly deleteProcess: Unary<TasksPb.DeleteProcessRequest, TasksPb.DeleteResponse>
  readonly get: Unary<TasksPb.GetRequest, TasksPb.GetResponse>
  readonly list: Unary<TasksPb.ListTasksRequest, TasksPb.ListTasksResponse>
  readonly kill: Unary<TasksPb.KillRequest, Empty>
  readonly exec: Unary<TasksPb.ExecProcessRequest, Empty>
  readonly resizePty: Unary<TasksPb.ResizePtyRequest, Empty>
  readonly closeIo: Unary<TasksPb.CloseIORequest, Empty>
  readonly pause: Unary<TasksPb.PauseTaskRequest, Empty>
  readonly resume: Unary<TasksPb.ResumeTaskRequest, Empty>
  readonly listPids: Unary<TasksPb.ListPidsRequest, TasksPb.ListPidsResponse>
  readonly checkpoint: Unary<TasksPb.CheckpointTaskRequest, TasksPb.CheckpointTaskResponse>
  readonly update: Unary<TasksPb.UpdateTaskRequest, Empty>
  readonly metrics: Unary<TasksPb.MetricsRequest, TasksPb.MetricsResponse>
  /** No deadline: blocks until the process exits (interrupt to stop waiting). */
  readonly wait: Unary<TasksPb.WaitRequest, TasksPb.WaitResponse>
}

export interface EventsApi {
  /** Publishes into the current namespace; `event` is required (checked here, see make). */
  readonly publish: Unary<EventsPb.PublishRequest, Empty>
  readonly forward: Unary<EventsPb.ForwardRequest, Empty>
  /** Not namespaced: sees every namespace unless filtered with `namespace==X`. Never ends by itself. */
  readonly subscribe: ServerStream<EventsPb.SubscribeRequest, Envelope>
}

export interface ContainerdService {
  /** The socket path calls go to. */
  readonly address: string
  /** The default namespace. */
  readonly namespace: string
  readonly version: Effect.Effect<VersionPb.VersionResponse, ContainerdError>
  /** grpc.health.v1 Check of the whole server (""). */
  readonly health: Effect.Effect<HealthPb.HealthCheckResponse_ServingStatus, ContainerdError>
  /** Version, snapshotters, runtimes and Transfer support, for the fingerprint. */
  readonly describe: Effect.Effect<ContainerdDescription, ContainerdError>
  /**
   * Creates a lease (with a `containerd.io/gc.expire` label) for the current scope and deletes it when
   * the scope closes, also on failure or interruption. Run calls inside it with `inLease(lease.id)`.
   */
  readonly withLease: (options?: LeaseOptions) => Effect.Effect<LeasesPb.Lease, ContainerdError, Scope.Scope>
  readonly introspection: IntrospectionApi
  readonly namespaces: NamespacesApi
  readonly leases: LeasesApi
  readonly content: ContentApi
  readonly images: ImagesApi
  readonly snapshots: SnapshotsApi
  readonly diff: DiffApi
  readonly containers: ContainersApi
  readonly tasks: TasksApi
  readonly events: EventsApi
}

export class Containerd extends Context.Tag("containerd-driver/Containerd")<Containerd, ContainerdService>() {}

/** grpc-js target for a socket path ("unix:" targets are taken as they are). */
export const grpcTarget = (address: string): string =>
  address.startsWith("unix:") ? address : `unix://${address}`

const sixteenMiB = 16 << 20

/** Builds the client on one grpc-js channel; the channel is closed when the scope closes. */
export const make = (options: ContainerdOptions): Effect.Effect<ContainerdService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const target = grpcTarget(options.address)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new grpc.Client(target, grpc.credentials.createInsecure(), {
          // containerd's defaults are 16 MiB both ways; grpc-js would refuse responses over 4 MiB.
          "grpc.max_receive_message_length": sixteenMiB,
          "grpc.max_send_message_length": sixteenMiB,
          // No keepalive options: containerd answers frequent pings with GOAWAY too_many_pings.
          // Reconnect promptly after a containerd restart instead of backing off for up to 2 minutes.
          "grpc.initial_reconnect_backoff_ms": 500,
          "grpc.max_reconnect_backoff_ms": Duration.toMillis(options.timeouts?.reconnectBackoffMax ?? "5 seconds")
        })
      ),
      (client) => Effect.sync(() => client.close())
    )
    const rpc = makeRpc({
      client,
      address: options.address,
      defaultNamespace: options.namespace,
      callTimeout: Duration.decode(options.timeouts?.call ?? "1 minute")
    })
    const { serverStream, unary } = rpc
    // Content.Write carries the image bytes: on its own HTTP/2 connection, without grpc-js's per-message costs.
    const h2 = yield* makeH2Duplex({ address: options.address, defaultNamespace: options.namespace })

    const version = unary(VersionPb.VersionService.version, Empty, globalCall)({})
    const health = unary(HealthPb.HealthService.check, HealthPb.HealthCheckRequest, globalCall)({ service: "" }).pipe(
      Effect.map((response) => response.status)
    )

    const I = IntrospectionPb.IntrospectionService
    const introspection: IntrospectionApi = {
      plugins: unary(I.plugins, IntrospectionPb.PluginsRequest, globalCall),
      server: unary(I.server, Empty, globalCall)({}),
      pluginInfo: unary(I.pluginInfo, IntrospectionPb.PluginInfoRequest, globalCall)
    }

    // Namespace records are global, but Create/Update/Delete publish an event, which needs a namespace
    // header (without one containerd creates the namespace and still answers "namespace is required").
    const N = NamespacesPb.NamespacesService
    const namespaces: NamespacesApi = {
      get: unary(N.get, NamespacesPb.GetNamespaceRequest, namespacedCall),
      list: unary(N.list, NamespacesPb.ListNamespacesRequest, namespacedCall),
      create: unary(N.create, NamespacesPb.CreateNamespaceRequest, namespacedCall),
      update: unary(N.update, NamespacesPb.UpdateNamespaceRequest, namespacedCall),
      delete: unary(N.delete, NamespacesPb.DeleteNamespaceRequest, namespacedCall)
    }

    const L = LeasesPb.LeasesService
    const leases: LeasesApi = {
      create: unary(L.create, LeasesPb.CreateRequest, namespacedCall),
      delete: unary(L.delete, LeasesPb.DeleteRequest, namespacedCall),
      list: unary(L.list, LeasesPb.ListRequest, namespacedCall),
      addResource: unary(L.addResource, LeasesPb.AddResourceRequest, namespacedCall),
      deleteResource: unary(L.deleteResource, LeasesPb.DeleteResourceRequest, namespacedCall),
      listResources: unary(L.listResources, LeasesPb.ListResourcesRequest, namespacedCall)
    }

    const C = ContentPb.ContentService
    const abort = unary(C.abort, ContentPb.AbortRequest, namespacedCall)
    const content: ContentApi = {
      info: unary(C.info, ContentPb.InfoRequest, namespacedCall),
      update: unary(C.update, ContentPb.UpdateRequest, namespacedCall),
      list: serverStream(C.list, ContentPb.ListContentRequest, blockingCall),
      delete: unary(C.delete, ContentPb.DeleteContentRequest, namespacedCall),
      read: serverStream(C.read, ContentPb.ReadContentRequest, blockingCall),
      status: unary(C.status, ContentPb.StatusRequest, namespacedCall),
      listStatuses: unary(C.listStatuses, ContentPb.ListStatusesRequest, namespacedCall),
      write: (writeOptions) =>
        writeBlob(h2.duplex(C.write, ContentPb.WriteContentRequest), (ref) => abort({ ref }), writeOptions),
      abort
    }

    const Im = ImagesPb.ImagesService
    const images: ImagesApi = {
      get: unary(Im.get, ImagesPb.GetImageRequest, namespacedCall),
      list: unary(Im.list, ImagesPb.ListImagesRequest, namespacedCall),
      create: unary(Im.create, ImagesPb.CreateImageRequest, namespacedCall),
      update: unary(Im.update, ImagesPb.UpdateImageRequest, namespacedCall),
      delete: unary(Im.delete, ImagesPb.DeleteImageRequest, namespacedCall)
    }

    const S = SnapshotsPb.SnapshotsService
    const snapshots: SnapshotsApi = {
      prepare: unary(S.prepare, SnapshotsPb.PrepareSnapshotRequest, namespacedCall),
      view: unary(S.view, SnapshotsPb.ViewSnapshotRequest, namespacedCall),
      mounts: unary(S.mounts, SnapshotsPb.MountsRequest, namespacedCall),
      commit: unary(S.commit, SnapshotsPb.CommitSnapshotRequest, namespacedCall),
      remove: unary(S.remove, SnapshotsPb.RemoveSnapshotRequest, namespacedCall),
      stat: unary(S.stat, SnapshotsPb.StatSnapshotRequest, namespacedCall),
      update: unary(S.update, SnapshotsPb.UpdateSnapshotRequest, namespacedCall),
      list: serverStream(S.list, SnapshotsPb.ListSnapshotsRequest, blockingCall),
      usage: unary(S.usage, SnapshotsPb.UsageRequest, namespacedCall),
      cleanup: unary(S.cleanup, SnapshotsPb.CleanupRequest, namespacedCall)
    }

    const D = DiffPb.DiffService
    const diff: DiffApi = {
      apply: unary(D.apply, DiffPb.ApplyRequest, blockingCall),
      diff: unary(D.diff, DiffPb.DiffRequest, blockingCall)
    }

    const Co = ContainersPb.ContainersService
    const containers: ContainersApi = {
      get: unary(Co.get, ContainersPb.GetContainerRequest, namespacedCall),
      list: unary(Co.list, ContainersPb.ListContainersRequest, namespacedCall),
      listStream: serverStream(Co.listStream, ContainersPb.ListContainersRequest, blockingCall),
      create: unary(Co.create, ContainersPb.CreateContainerRequest, namespacedCall),
      update: unary(Co.update, ContainersPb.UpdateContainerRequest, namespacedCall),
      delete: unary(Co.delete, ContainersPb.DeleteContainerRequest, namespacedCall)
    }

    const T = TasksPb.TasksService
    const tasks: TasksApi = {
      create: unary(T.create, TasksPb.CreateTaskRequest, namespacedCall),
      start: unary(T.start, TasksPb.StartRequest, namespacedCall),
      delete: unary(T.delete, TasksPb.DeleteTaskRequest, namespacedCall),
      deleteProcess: unary(T.deleteProcess, TasksPb.DeleteProcessRequest, namespacedCall),
      get: unary(T.get, TasksPb.GetRequest, namespacedCall),
      list: unary(T.list, TasksPb.ListTasksRequest, namespacedCall),
      kill: unary(T.kill, TasksPb.KillRequest, namespacedCall),
      exec: unary(T.exec, TasksPb.ExecProcessRequest, namespacedCall),
      resizePty: unary(T.resizePty, TasksPb.ResizePtyRequest, namespacedCall),
      closeIo: unary(T.closeIo, TasksPb.CloseIORequest, namespacedCall),
      pause: unary(T.pause, TasksPb.PauseTaskRequest, namespacedCall),
      resume: unary(T.resume, TasksPb.ResumeTaskRequest, namespacedCall),
      listPids: unary(T.listPids, TasksPb.ListPidsRequest, namespacedCall),
      checkpoint: unary(T.checkpoint, TasksPb.CheckpointTaskRequest, blockingCall),
      update: unary(T.update, TasksPb.UpdateTaskRequest, namespacedCall),
      metrics: unary(T.metrics, TasksPb.MetricsRequest, namespacedCall),
      wait: unary(T.wait, TasksPb.WaitRequest, blockingCall)
    }

    const E = EventsPb.EventsService
    const publish = unary(E.publish, EventsPb.PublishRequest, namespacedCall)
    const forward = unary(E.forward, EventsPb.ForwardRequest, namespacedCall)
    const events: EventsApi = {
      ...requireEventPayload({ publish, forward }),
      subscribe: serverStream(E.subscribe, EventsPb.SubscribeRequest, { namespaced: false, deadline: false })
    }

    return {
      address: options.address,
      namespace: options.namespace,
      version,
      health,
      describe: describeFrom({ version, health, plugins: introspection.plugins }),
      withLease: makeWithLease(leases),
      introspection,
      namespaces,
      leases,
      content,
      images,
      snapshots,
      diff,
      containers,
      tasks,
      events
    }
  })

export const layer = (options: ContainerdOptions): Layer.Layer<Containerd> => Layer.scoped(Containerd, make(options))

