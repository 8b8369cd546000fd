/**
 * Per-call context carried as gRPC metadata: the containerd namespace (`containerd-namespace`) and an
 * optional lease (`containerd-lease`). Both live in fiber-local references so a block of calls can be
 * moved into another namespace or lease without threading ids through every call. The real client and
 * the fake read the same references.
 */
import { Effect, FiberRef, Option } from "effect"
import { globalValue } from "effect/GlobalValue"

/** Namespace override; none = the namespace the Containerd layer was built with. */
export const currentNamespace: FiberRef.FiberRef<Option.Option<string>> = globalValue(
  Symbol.for("containerd-driver/Containerd/currentNamespace"),
  () => FiberRef.unsafeMake(Option.none<string>())
)

/** Lease every object created by a call is added to; none = no lease header. */
export const currentLease: FiberRef.FiberRef<Option.Option<string>> = globalValue(
  Symbol.for("containerd-driver/Containerd/currentLease"),
  () => FiberRef.unsafeMake(Option.none<string>())
)

/** Runs `self` with every namespaced call going to namespace `namespace`. */
export const inNamespace =
  (namespace: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentNamespace, Option.some(namespace))

/**
 * Runs `self` with every namespaced call carrying `containerd-lease: leaseId`: content, ingests and
 * snapshots created by those calls are added to the lease (and so protected from GC until it ends).
 */
export const inLease =
  (leaseId: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentLease, Option.some(leaseId))

/** Namespace and lease in effect for a call, resolved against the layer's default namespace. */
export const resolveCallContext = (
  defaultNamespace: string
): Effect.Effect<{ readonly namespace: string; readonly lease: Option.Option<string> }> =>
  Effect.map(
    Effect.all([FiberRef.get(currentNamespace), FiberRef.get(currentLease)]),
    ([namespace, lease]) => ({ namespace: Option.getOrElse(namespace, () => defaultNamespace), lease })
  )
