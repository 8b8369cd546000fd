/**
 * FakeContainerd's in-memory daemon state and the call wrapper every fake RPC goes through. The wrapper does
 * what the real daemon and client do around each call — unreachable simulation, injected faults, namespace
 * header resolution and validation, lease lookup — and builds errors with the real client's error mapping,
 * so callers see the same ContainerdError shapes from both.
 */
import { createHash } from "node:crypto"
import { Clock, Effect, Option, PubSub, type SubscriptionRef } from "effect"
import type { Container } from "../../src/gen/github.com/containerd/containerd/api/services/containers/v1/containers.js"
import type { Info as BlobInfo } from "../../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import type { Image } from "../../src/gen/github.com/containerd/containerd/api/services/images/v1/images.js"
import type { Plugin } from "../../src/gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js"
import type { Lease, Resource } from "../../src/gen/github.com/containerd/containerd/api/services/leases/v1/leases.js"
import type { Info as SnapshotInfo } from "../../src/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js"
import type { Envelope } from "../../src/gen/github.com/containerd/containerd/api/types/event.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"
import { resolveCallContext } from "../containerd/callContext.js"
import { type ContainerdError, type ContainerdErrorReason, fromGrpcError, shortMethodName } from "../containerd/ContainerdError.js"
import type { RequestCodec, RequestInput, Unary } from "../containerd/rpc.js"
import type { TaskRecord } from "./tasks.js"

export interface BlobRecord {
  info: BlobInfo
  data: Buffer
}

export interface IngestRecord {
  readonly ref: string
  data: Buffer
  total: bigint
  expected: string
  readonly startedAt: Date
  updatedAt: Date
  /** An open Write stream holds the ref. */
  locked: boolean
}

export interface SnapshotRecord {
  /** Numeric id, as containerd's snapshotters name their directories. */
  readonly id: number
  info: SnapshotInfo
  /** Bytes applied by Diff.Apply (reported by Usage). */
  usage: bigint
}

export interface LeaseRecord {
  lease: Lease
  resources: Array<Resource>
}

export interface NamespaceState {
  readonly name: string
  labels: Record<string, string>
  readonly leases: Map<string, LeaseRecord>
  readonly content: Map<string, BlobRecord>
  readonly ingests: Map<string, IngestRecord>
  readonly images: Map<string, Image>
  /** snapshotter → key → snapshot */
  readonly snapshots: Map<string, Map<string, SnapshotRecord>>
  readonly containers: Map<string, Container>
  readonly tasks: Map<string, TaskRecord>
}

export const emptyNamespace = (name: string): NamespaceState => ({
  name,
  labels: {},
  leases: new Map(),
  content: new Map(),
  ingests: new Map(),
  images: new Map(),
  snapshots: new Map(),
  containers: new Map(),
  tasks: new Map()
})

export const isNamespaceEmpty = (ns: NamespaceState): boolean =>
  ns.leases.size === 0 && ns.content.size === 0 && ns.ingests.size === 0 && ns.images.size === 0 &&
  ns.containers.size === 0 && [...ns.snapshots.values()].every((s) => s.size === 0)

export interface InjectedFault {
  readonly reason: ContainerdErrorReason
  readonly detail: string
}

export interface World {
  readonly address: string
  readonly defaultNamespace: string
  readonly namespaces: Map<string, NamespaceState>
  readonly plugins: ReadonlyArray<Plugin>
  readonly snapshotters: ReadonlyArray<string>
  readonly events: PubSub.PubSub<Envelope>
  /** Number of registered Events.Subscribe streams. */
  readonly subscribers: SubscriptionRef.SubscriptionRef<number>
  /** method ("Tasks.Create") → faults to raise on its next calls, in order */
  readonly faults: Map<string, Array<InjectedFault>>
  reachable: boolean
  nextId: number
  nextPid: number
}

/** gRPC codes for each reason, for building errors exactly as the real client maps them. */
const codeByReason: Readonly<Record<ContainerdErrorReason, number>> = {
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  OutOfRange: 11,
  Unimplemented: 12,
  Unavailable: 14,
  Unknown: 2
}

/** containerd's errdefs message suffix for a reason. */
const suffixByReason: Partial<Record<ContainerdErrorReason, string>> = {
  InvalidArgument: "invalid argument",
  NotFound: "not found",
  AlreadyExists: "already exists",
  FailedPrecondition: "failed precondition",
  Unavailable: "unavailable",
  Unknown: "unknown"
}

export const errorFor = (world: World, path: string, reason: ContainerdErrorReason, detail: string): ContainerdError => {
  const suffix = suffixByReason[reason]
  const details = suffix === undefined || detail.endsWith(`: ${suffix}`) ? detail : `${detail}: ${suffix}`
  return fromGrpcError({ code: codeByReason[reason], details }, path, world.address)
}

const identifier = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/

/** containerd's identifier rule (namespaces, container ids, exec ids); returns the violation or undefined. */
export const identifierViolation = (kind: string, value: string): string | undefined => {
  if (value === "") return `${kind}: identifier must not be empty`
  if (value.length > 76) return `${kind}: identifier "${value}" greater than maximum length (76 characters)`
  if (!identifier.test(value)) return `${kind}: identifier "${value}" must match ${identifier.source}`
  return undefined
}

export const sha256Digest = (data: Uint8Array): string => `sha256:${createHash("sha256").update(data).digest("hex")}`

export const isValidDigest = (digest: string): boolean => /^sha256:[a-f0-9]{64}$/.test(digest)

/** What a fake RPC body gets besides its request. */
export interface CallContext {
  readonly world: World
  readonly path: string
  readonly namespace: string
  readonly lease: Option.Option<string>
  readonly now: Date
  /** The namespace's state, created on first write. */
  readonly state: () => NamespaceState
  /** The namespace's state for reading (an empty one when the namespace was never used). */
  readonly view: NamespaceState
  readonly fail: (reason: ContainerdErrorReason, detail: string) => ContainerdError
  /** Adds a resource to the call's lease (containerd-lease header), if any. */
  readonly addToLease: (resource: Resource) => Effect.Effect<void, ContainerdError>
  readonly publish: (topic: string, event: Any) => Effect.Effect<void>
}

export type CallScope = "namespaced" | "global"

export const makeCallContext = (
  world: World,
  path: string,
  scope: CallScope,
  options: { readonly control?: boolean } = {}
): Effect.Effect<CallContext, ContainerdError> =>
  Effect.gen(function*() {
    const method = shortMethodName(path)
    const fail = (reason: ContainerdErrorReason, detail: string) => errorFor(world, path, reason, detail)
    if (!world.reachable && options.control !== true) {
      return yield* Effect.fail(
        fromGrpcError(
          { code: 14, details: `No connection established. Last error: Error: connect ENOENT ${world.address}` },
          path,
          world.address
        )
      )
    }
    const fault = options.control === true ? undefined : world.faults.get(method)?.shift()
    if (fault !== undefined) return yield* Effect.fail(fail(fault.reason, fault.detail))
    const { lease, namespace } = yield* resolveCallContext(world.defaultNamespace)
    if (scope === "namespaced") {
      const violation = identifierViolation("namespace validation", namespace)
      if (violation !== undefined) return yield* Effect.fail(fail("InvalidArgument", violation))
    }
    const now = new Date(yield* Clock.currentTimeMillis)
    const state = () => {
      const existing = world.namespaces.get(namespace)
      if (existing !== undefined) return existing
      const created = emptyNamespace(namespace)
      world.namespaces.set(namespace, created)
      return created
    }
    const view = world.namespaces.get(namespace) ?? emptyNamespace(namespace)
    const addToLease = (resource: Resource): Effect.Effect<void, ContainerdError> => {
      if (scope !== "namespaced" || Option.isNone(lease)) return Effect.void
      const record = view.leases.get(lease.value)
      if (record === undefined) return Effect.fail(fail("NotFound", `lease "${lease.value}": not found`))
      if (!record.resources.some((r) => r.id === resource.id && r.type === resource.type)) record.resources.push(resource)
      return Effect.void
    }
    // Read the clock when publishing: scheduled exits publish long after the call that scheduled them.
    const publish = (topic: string, event: Any) =>
      Effect.flatMap(Clock.currentTimeMillis, (millis) =>
        PubSub.publish(world.events, { timestamp: new Date(millis), namespace, topic, event })).pipe(Effect.asVoid)
    const context: CallContext = { world, path, namespace, lease, now, state, view, fail, addToLease, publish }
    return context
  })

/** A fake unary RPC: decodes the request like the real client (fromPartial), then runs `body`. */
export const fakeUnary = <I, O>(
  world: World,
  definition: { readonly path: string },
  codec: RequestCodec<I>,
  scope: CallScope,
  body: (request: I, context: CallContext) => Effect.Effect<O, ContainerdError>
): Unary<I, O> =>
(input: RequestInput<I>) =>
  Effect.flatMap(makeCallContext(world, definition.path, scope), (context) =>
    Effect.suspend(() => body(codec.fromPartial(input as never), context)))
