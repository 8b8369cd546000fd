/**
 * FakeContainerd's snapshotters ("native" and "overlayfs" by default): ACTIVE/VIEW/COMMITTED snapshots with parent
 * chains, the same validation and error kinds as the daemon, and mounts shaped like the real snapshotters' (bind
 * mounts for a single layer, overlay with a lowerdir chain for overlayfs).
 */
import { Effect, Stream } from "effect"
import {
  CleanupRequest,
  CommitSnapshotRequest,
  Kind,
  ListSnapshotsRequest,
  MountsRequest,
  PrepareSnapshotRequest,
  RemoveSnapshotRequest,
  SnapshotsService,
  StatSnapshotRequest,
  UpdateSnapshotRequest,
  UsageRequest,
  ViewSnapshotRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js"
import type { Mount } from "../../src/gen/github.com/containerd/containerd/api/types/mount.js"
import { labelledLookup, matchesFilter } from "../../src/containerd/filters.js"
import type { SnapshotsApi } from "../Containerd.js"
import type { ContainerdError } from "../containerd/ContainerdError.js"
import { applyLabelMask, fakeServerStream, filterOf } from "./content.js"
import { type CallContext, fakeUnary, type NamespaceState, type SnapshotRecord, type World } from "./world.js"

const directoryOf = (snapshotter: string, id: number): string =>
  `/var/lib/containerd/io.containerd.snapshotter.v1.${snapshotter}/snapshots/${id}`

/** The snapshots of one snapshotter in a namespace, failing like the daemon for an unknown snapshotter. */
const snapshotterOf = (
  context: CallContext,
  ns: NamespaceState,
  snapshotter: string
): Effect.Effect<Map<string, SnapshotRecord>, ContainerdError> => {
  if (!context.world.snapshotters.includes(snapshotter)) {
    return Effect.fail(context.fail("InvalidArgument", `snapshotter not loaded: ${snapshotter}`))
  }
  const existing = ns.snapshots.get(snapshotter)
  if (existing !== undefined) return Effect.succeed(existing)
  const created = new Map<string, SnapshotRecord>()
  ns.snapshots.set(snapshotter, created)
  return Effect.succeed(created)
}

/** Parents of a snapshot, nearest first. */
const parentsOf = (snapshots: Map<string, SnapshotRecord>, record: SnapshotRecord): Array<SnapshotRecord> => {
  const parents: Array<SnapshotRecord> = []
  let parent = record.info.parent
  while (parent !== "") {
    const next = snapshots.get(parent)
    if (next === undefined) break
    parents.push(next)
    parent = next.info.parent
  }
  return parents
}

export const mountsOf = (snapshotter: string, snapshots: Map<string, SnapshotRecord>, record: SnapshotRecord): Array<Mount> => {
  const readOnly = record.info.kind === Kind.VIEW
  const directory = directoryOf(snapshotter, record.id)
  if (snapshotter !== "overlayfs") {
    return [{ type: "bind", source: directory, target: "", options: ["rbind", readOnly ? "ro" : "rw"] }]
  }
  const lower = parentsOf(snapshots, record).map((parent) => `${directoryOf(snapshotter, parent.id)}/fs`)
  if (lower.length === 0) return [{ type: "bind", source: `${directory}/fs`, target: "", options: [readOnly ? "ro" : "rw", "rbind"] }]
  if (readOnly) {
    return lower.length === 1
      ? [{ type: "bind", source: lower[0] ?? "", target: "", options: ["ro", "rbind"] }]
      : [{ type: "overlay", source: "overlay", target: "", options: ["index=off", `lowerdir=${lower.join(":")}`] }]
  }
  return [{
    type: "overlay",
    source: "overlay",
    target: "",
    options: ["index=off", `workdir=${directory}/work`, `upperdir=${directory}/fs`, `lowerdir=${lower.join(":")}`]
  }]
}

/** The active snapshot whose mounts are `mounts` (how the fake Diff.Apply knows where a layer lands). */
export const findSnapshotByMounts = (
  ns: NamespaceState,
  mounts: ReadonlyArray<Mount>
): SnapshotRecord | undefined => {
  const wanted = JSON.stringify(mounts.map((m) => [m.type, m.source, m.options]))
  for (const [snapshotter, snapshots] of ns.snapshots) {
    for (const record of snapshots.values()) {
      const actual = JSON.stringify(mountsOf(snapshotter, snapshots, record).map((m) => [m.type, m.source, m.options]))
      if (actual === wanted) return record
    }
  }
  return undefined
}

const missing = (context: CallContext, key: string) => context.fail("NotFound", `snapshot ${key} does not exist`)

export const makeFakeSnapshots = (world: World): SnapshotsApi => {
  const S = SnapshotsService

  const create = (kind: Kind) =>
  (
    request: { snapshotter: string; key: string; parent: string; labels: Record<string, string> },
    context: CallContext
  ) =>
    Effect.gen(function*() {
      const ns = context.state()
      const snapshots = yield* snapshotterOf(context, ns, request.snapshotter)
      if (snapshots.has(request.key)) {
        return yield* Effect.fail(context.fail("AlreadyExists", `snapshot ${request.key}: already exists`))
      }
      if (request.parent !== "") {
        const parent = snapshots.get(request.parent)
        if (parent === undefined) {
          return yield* Effect.fail(
            context.fail("NotFound", `failed to create snapshot: missing parent "${context.namespace}/${request.parent}" bucket`)
          )
        }
        if (parent.info.kind !== Kind.COMMITTED) {
          return yield* Effect.fail(context.fail(
            "InvalidArgument",
            `failed to create snapshot: parent "${context.namespace}/${parent.id}/${request.parent}" is not committed snapshot`
          ))
        }
      }
      yield* context.addToLease({ id: request.key, type: `snapshots/${request.snapshotter}` })
      const record: SnapshotRecord = {
        id: world.nextId++,
        info: {
          name: request.key,
          parent: request.parent,
          kind,
          createdAt: context.now,
          updatedAt: context.now,
          labels: { ...request.labels }
        },
        usage: 0n
      }
      snapshots.set(request.key, record)
      return { mounts: mountsOf(request.snapshotter, snapshots, record) }
    })

  const existing = (context: CallContext, snapshotter: string, key: string) =>
    Effect.gen(function*() {
      const snapshots = yield* snapshotterOf(context, context.view, snapshotter)
      const record = snapshots.get(key)
      if (record === undefined) return yield* Effect.fail(missing(context, key))
      return { snapshots, record }
    })

  return {
    prepare: fakeUnary(world, S.prepare, PrepareSnapshotRequest, "namespaced", create(Kind.ACTIVE)),
    view: fakeUnary(world, S.view, ViewSnapshotRequest, "namespaced", create(Kind.VIEW)),
    mounts: fakeUnary(world, S.mounts, MountsRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record, snapshots } = yield* existing(context, request.snapshotter, request.key)
        if (record.info.kind === Kind.COMMITTED) {
          return yield* Effect.fail(context.fail(
            "FailedPrecondition",
            `failed to get snapshot mount: requested snapshot ${context.namespace}/${record.id}/${request.key} not active or view`
          ))
        }
        return { mounts: mountsOf(request.snapshotter, snapshots, record) }
      })),
    commit: fakeUnary(world, S.commit, CommitSnapshotRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record, snapshots } = yield* existing(context, request.snapshotter, request.key)
        if (snapshots.has(request.name)) {
          return yield* Effect.fail(context.fail("AlreadyExists", `snapshot "${request.name}": already exists`))
        }
        if (record.info.kind !== Kind.ACTIVE) {
          return yield* Effect.fail(context.fail(
            "FailedPrecondition",
            `failed to commit snapshot: snapshot "${context.namespace}/${record.id}/${request.key}" is not active`
          ))
        }
        yield* context.addToLease({ id: request.name, type: `snapshots/${request.snapshotter}` })
        snapshots.delete(request.key)
        snapshots.set(request.name, {
          id: record.id,
          info: {
            ...record.info,
            name: request.name,
            kind: Kind.COMMITTED,
            updatedAt: context.now,
            labels: { ...record.info.labels, ...request.labels }
          },
          usage: record.usage
        })
        return {}
      })),
    remove: fakeUnary(world, S.remove, RemoveSnapshotRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { snapshots } = yield* existing(context, request.snapshotter, request.key)
        if ([...snapshots.values()].some((s) => s.info.parent === request.key)) {
          return yield* Effect.fail(context.fail("FailedPrecondition", "cannot remove snapshot with child"))
        }
        snapshots.delete(request.key)
        return {}
      })),
    stat: fakeUnary(world, S.stat, StatSnapshotRequest, "namespaced", (request, context) =>
      Effect.map(existing(context, request.snapshotter, request.key), ({ record }) => ({ info: { ...record.info } }))),
    update: fakeUnary(world, S.update, UpdateSnapshotRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record } = yield* existing(context, request.snapshotter, request.info?.name ?? "")
        record.info = {
          ...record.info,
          labels: applyLabelMask(record.info.labels, request.info?.labels ?? {}, request.updateMask),
          updatedAt: context.now
        }
        return { info: { ...record.info } }
      })),
    list: fakeServerStream(world, S.list, ListSnapshotsRequest, (request, context) =>
      Effect.gen(function*() {
        const filter = yield* filterOf(context, request.filters)
        const snapshots = yield* snapshotterOf(context, context.view, request.snapshotter)
        const info = [...snapshots.values()]
          .map((record) => record.info)
          .filter((i) =>
            matchesFilter(filter, labelledLookup({ name: i.name, parent: i.parent, kind: Kind[i.kind]?.toLowerCase() }, i.labels))
          )
        return info.length === 0 ? Stream.empty : Stream.make({ info })
      })),
    usage: fakeUnary(world, S.usage, UsageRequest, "namespaced", (request, context) =>
      Effect.map(existing(context, request.snapshotter, request.key), ({ record }) => ({ size: record.usage, inodes: 0n }))),
    cleanup: fakeUnary(world, S.cleanup, CleanupRequest, "namespaced", (request, context) =>
      Effect.as(snapshotterOf(context, context.view, request.snapshotter), {}))
  }
}
