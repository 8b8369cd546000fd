/**
 * Behaviour built on top of the raw RPCs, shared by the real client and FakeContainerd so both act
 * the same: the scoped lease and the `describe` summary used by the plugin's fingerprint.
 */
import { randomBytes } from "node:crypto"
import { Clock, Duration, Effect, FiberRef, type Scope } from "effect"
import type { EventsApi, LeasesApi } from "../Containerd.js"
import type { VersionResponse } from "../../src/gen/github.com/containerd/containerd/api/services/version/v1/version.js"
import type {
  PluginsRequest,
  PluginsResponse
} from "../../src/gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js"
import type { Lease } from "../../src/gen/github.com/containerd/containerd/api/services/leases/v1/leases.js"
import { HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health.js"
import { currentNamespace } from "./callContext.js"
import { clientError, type ContainerdError } from "./ContainerdError.js"
import type { Unary } from "./rpc.js"

/** Lease label: RFC3339 time after which containerd's GC ignores the lease (a crash cannot pin data forever). */
export const gcExpireLabel = "containerd.io/gc.expire"

export interface LeaseOptions {
  /** Lease id; default a random "containerd-driver-…" id. */
  readonly id?: string | undefined
  /** How long the lease protects its objects if it is never deleted. Default 24 hours (as the Go client). */
  readonly expire?: Duration.DurationInput | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** Delete with `sync: true` (run GC before returning). */
  readonly syncDelete?: boolean | undefined
}

/** RFC3339 without fractional seconds, e.g. "2024-05-01T12:00:00Z". */
const rfc3339 = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

export const makeWithLease =
  (leases: LeasesApi) => (options: LeaseOptions = {}): Effect.Effect<Lease, ContainerdError, Scope.Scope> =>
    Effect.gen(function*() {
      // The release must reach the namespace the lease was created in, even if the scope closes elsewhere.
      const namespace = yield* FiberRef.get(currentNamespace)
      const lease = yield* Effect.acquireRelease(
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const id = options.id ?? `containerd-driver-${randomBytes(8).toString("hex")}`
          const labels = { ...options.labels, [gcExpireLabel]: rfc3339(now + Duration.toMillis(options.expire ?? "24 hours")) }
          const created = yield* leases.create({ id, labels })
          return created.lease ?? { id, labels, createdAt: undefined }
        }),
        (lease) =>
          leases.delete({ id: lease.id, sync: options.syncDelete ?? false }).pipe(
            Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void),
            Effect.catchAll((error) => Effect.logWarning(`could not delete containerd lease ${lease.id}: ${error.message}`)),
            Effect.locally(currentNamespace, namespace)
          )
      )
      return lease
    })

export interface SnapshotterStatus {
  readonly id: string
  /** False when the plugin failed to initialise or was skipped (e.g. overlayfs on an unsupported filesystem). */
  readonly ok: boolean
  readonly error?: string
}

export interface ContainerdDescription {
  readonly version: string
  readonly revision: string
  /** grpc health Check of the server answered SERVING. */
  readonly serving: boolean
  readonly snapshotters: ReadonlyArray<SnapshotterStatus>
  /** Runtime names usable as Container.runtime.name. */
  readonly runtimes: ReadonlyArray<string>
  /** The Transfer service (containerd 1.7+) is loaded. */
  readonly hasTransfer: boolean
}

const pluginOk = (plugin: { readonly initErr?: { readonly code: number } | undefined }): boolean =>
  plugin.initErr === undefined

/**
 * containerd does not list shims: the shim-v2 task runtime plugin resolves a runtime name such as
 * io.containerd.runc.v2 to the binary containerd-shim-runc-v2, which every containerd package ships.
 * So the runc v2 runtime is reported when that plugin loaded; the legacy v1 runtime (1.6/1.7) by its id.
 */
const runtimesOf = (plugins: PluginsResponse["plugins"]): Array<string> => {
  const runtimes: Array<string> = []
  for (const plugin of plugins) {
    if (!pluginOk(plugin)) continue
    if (plugin.type === "io.containerd.runtime.v2" && plugin.id === "task") runtimes.push("io.containerd.runc.v2")
    if (plugin.type === "io.containerd.runtime.v1") runtimes.push(`io.containerd.runtime.v1.${plugin.id}`)
  }
  return runtimes
}

export const describeFrom = (api: {
  readonly version: Effect.Effect<VersionResponse, ContainerdError>
  readonly health: Effect.Effect<HealthCheckResponse_ServingStatus, ContainerdError>
  readonly plugins: Unary<PluginsRequest, PluginsResponse>
}): Effect.Effect<ContainerdDescription, ContainerdError> =>
  Effect.gen(function*() {
    const [version, serving, { plugins }] = yield* Effect.all([
      api.version,
      api.health.pipe(
        Effect.map((status) => status === HealthCheckResponse_ServingStatus.SERVING),
        // A daemon without the healthcheck plugin still answers the other calls.
        Effect.catchIf((error) => error.reason === "Unimplemented", () => Effect.succeed(false))
      ),
      api.plugins({ filters: [] })
    ], { concurrency: "unbounded" })
    const snapshotters = plugins
      .filter((plugin) => plugin.type === "io.containerd.snapshotter.v1")
      .map((plugin): SnapshotterStatus =>
        plugin.initErr === undefined
          ? { id: plugin.id, ok: true }
          : { id: plugin.id, ok: false, error: plugin.initErr.message || `code ${plugin.initErr.code}` }
      )
    return {
      version: version.version,
      revision: version.revision,
      serving,
      snapshotters,
      runtimes: runtimesOf(plugins),
      hasTransfer: plugins.some((plugin) => plugin.type === "io.containerd.grpc.v1" && plugin.id === "transfer" && pluginOk(plugin))
    }
  })

/**
 * Publish and Forward refused without an event before anything is sent: containerd 1.6 dereferences
 * the event without checking it (a nil event crashes the daemon). The fake applies the same guard.
 */
export const requireEventPayload = (
  api: Pick<EventsApi, "publish" | "forward">
): Pick<EventsApi, "publish" | "forward"> => ({
  publish: (request) =>
    request.event === undefined
      ? Effect.fail(clientError("InvalidArgument", "Events.Publish", "an event payload is required"))
      : api.publish(request),
  forward: (request) =>
    request.envelope?.event === undefined
      ? Effect.fail(clientError("InvalidArgument", "Events.Forward", "an envelope with an event payload is required"))
      : api.forward(request)
})
