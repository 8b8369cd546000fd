/**
 * FakeContainerd's metadata services: namespaces, leases (with resources), image records and Diff.Apply
 * (which really decompresses gzip layers to report the uncompressed digest, as containerd does).
 */
import { randomBytes } from "node:crypto"
import { gunzipSync } from "node:zlib"
import { Effect, Either } from "effect"
import { ApplyRequest, DiffRequest, DiffService } from "../../src/gen/github.com/containerd/containerd/api/services/diff/v1/diff.js"
import {
  CreateImageRequest,
  DeleteImageRequest,
  GetImageRequest,
  type Image,
  ImagesService,
  ListImagesRequest,
  UpdateImageRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/images/v1/images.js"
import {
  AddResourceRequest,
  CreateRequest,
  DeleteRequest,
  DeleteResourceRequest,
  LeasesService,
  ListRequest,
  ListResourcesRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/leases/v1/leases.js"
import {
  CreateNamespaceRequest,
  DeleteNamespaceRequest,
  GetNamespaceRequest,
  ListNamespacesRequest,
  NamespacesService,
  UpdateNamespaceRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace.js"
import type { Descriptor } from "../../src/gen/github.com/containerd/containerd/api/types/descriptor.js"
import { labelledLookup, matchesFilter } from "../../src/containerd/filters.js"
import type { DiffApi, ImagesApi, LeasesApi, NamespacesApi } from "../Containerd.js"
import { type ContainerdError, fromGrpcError } from "../containerd/ContainerdError.js"
import { applyLabelMask, filterOf } from "./content.js"
import { collectGarbage } from "./gc.js"
import { findSnapshotByMounts } from "./snapshots.js"
import {
  type CallContext,
  emptyNamespace,
  fakeUnary,
  identifierViolation,
  isNamespaceEmpty,
  isValidDigest,
  sha256Digest,
  type World
} from "./world.js"

export const makeFakeNamespaces = (world: World): NamespacesApi => {
  const N = NamespacesService
  return {
    // containerd 1.6 answers Get for any valid name, used or not.
    get: fakeUnary(world, N.get, GetNamespaceRequest, "namespaced", (request) =>
      Effect.succeed({ namespace: { name: request.name, labels: { ...world.namespaces.get(request.name)?.labels } } })),
    list: fakeUnary(world, N.list, ListNamespacesRequest, "namespaced", () =>
      Effect.succeed({
        namespaces: [...world.namespaces.values()].map((ns) => ({ name: ns.name, labels: { ...ns.labels } }))
      })),
    create: fakeUnary(world, N.create, CreateNamespaceRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const name = request.namespace?.name ?? ""
        const violation = identifierViolation("namespace", name)
        if (violation !== undefined) return yield* Effect.fail(context.fail("InvalidArgument", violation))
        if (world.namespaces.has(name)) return yield* Effect.fail(context.fail("AlreadyExists", `namespace "${name}"`))
        const ns = emptyNamespace(name)
        ns.labels = { ...request.namespace?.labels }
        world.namespaces.set(name, ns)
        return { namespace: { name, labels: { ...ns.labels } } }
      })),
    update: fakeUnary(world, N.update, UpdateNamespaceRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const name = request.namespace?.name ?? ""
        const ns = world.namespaces.get(name)
        if (ns === undefined) return yield* Effect.fail(context.fail("NotFound", `namespace "${name}"`))
        ns.labels = applyLabelMask(ns.labels, request.namespace?.labels ?? {}, request.updateMask)
        return { namespace: { name, labels: { ...ns.labels } } }
      })),
    delete: fakeUnary(world, N.delete, DeleteNamespaceRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const ns = world.namespaces.get(request.name)
        if (ns === undefined) return yield* Effect.fail(context.fail("NotFound", `namespace "${request.name}"`))
        if (!isNamespaceEmpty(ns)) {
          return yield* Effect.fail(context.fail("FailedPrecondition", `namespace "${request.name}" must be empty`))
        }
        world.namespaces.delete(request.name)
        return {}
      }))
  }
}

const leaseMissing = (context: CallContext, id: string) => context.fail("NotFound", `lease "${id}"`)

export const makeFakeLeases = (world: World): LeasesApi => {
  const L = LeasesService
  const leaseOf = (context: CallContext, id: string) => {
    const record = context.view.leases.get(id)
    return record === undefined ? Effect.fail(leaseMissing(context, id)) : Effect.succeed(record)
  }
  const checkResourceType = (context: CallContext, type: string): Effect.Effect<void, ContainerdError> =>
    type === "content" || type === "ingests" || /^snapshots\/.+/.test(type)
      ? Effect.void
      : Effect.fail(context.fail("Unimplemented", `resource type ${type} not supported yet: not implemented`))
  return {
    create: fakeUnary(world, L.create, CreateRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const ns = context.state()
        const id = request.id === "" ? `${context.now.getTime()}-${randomBytes(3).toString("hex")}` : request.id
        if (ns.leases.has(id)) return yield* Effect.fail(context.fail("AlreadyExists", `lease "${id}"`))
        const lease = { id, createdAt: context.now, labels: { ...request.labels } }
        ns.leases.set(id, { lease, resources: [] })
        return { lease }
      })),
    delete: fakeUnary(world, L.delete, DeleteRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        if (!context.view.leases.delete(request.id)) return yield* Effect.fail(leaseMissing(context, request.id))
        if (request.sync) collectGarbage(context.view, context.now)
        return {}
      })),
    list: fakeUnary(world, L.list, ListRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        leases: [...context.view.leases.values()]
          .map((record) => record.lease)
          .filter((lease) => matchesFilter(filter, labelledLookup({ id: lease.id }, lease.labels)))
      }))),
    addResource: fakeUnary(world, L.addResource, AddResourceRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const record = yield* leaseOf(context, request.id)
        const resource = request.resource ?? { id: "", type: "" }
        yield* checkResourceType(context, resource.type)
        if (!record.resources.some((r) => r.id === resource.id && r.type === resource.type)) record.resources.push(resource)
        return {}
      })),
    deleteResource: fakeUnary(world, L.deleteResource, DeleteResourceRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const record = yield* leaseOf(context, request.id)
        const resource = request.resource ?? { id: "", type: "" }
        yield* checkResourceType(context, resource.type)
        record.resources = record.resources.filter((r) => !(r.id === resource.id && r.type === resource.type))
        return {}
      })),
    listResources: fakeUnary(world, L.listResources, ListResourcesRequest, "namespaced", (request, context) =>
      Effect.map(leaseOf(context, request.id), (record) => ({ resources: record.resources.map((r) => ({ ...r })) })))
  }
}

const targetViolation = (target: Descriptor | undefined): string | undefined => {
  if (target === undefined) return "Target must be set"
  if (!isValidDigest(target.digest)) return `Target.Digest "${target.digest}" invalid`
  if (target.size <= 0n) return "Target.Size must be greater than zero"
  if (target.mediaType === "") return "Target.MediaType must be set"
  return undefined
}

const imageLookup = (image: Image) =>
  labelledLookup(
    { name: image.name, "target.digest": image.target?.digest, "target.mediatype": image.target?.mediaType },
    image.labels
  )

export const makeFakeImages = (world: World): ImagesApi => {
  const Im = ImagesService
  const missing = (context: CallContext, name: string) => context.fail("NotFound", `image "${name}"`)
  return {
    get: fakeUnary(world, Im.get, GetImageRequest, "namespaced", (request, context) => {
      const image = context.view.images.get(request.name)
      return image === undefined ? Effect.fail(missing(context, request.name)) : Effect.succeed({ image })
    }),
    list: fakeUnary(world, Im.list, ListImagesRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        images: [...context.view.images.values()].filter((image) => matchesFilter(filter, imageLookup(image)))
      }))),
    create: fakeUnary(world, Im.create, CreateImageRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const image = request.image
        if (image === undefined || image.name === "") return yield* Effect.fail(context.fail("InvalidArgument", "Image.Name required"))
        const violation = targetViolation(image.target)
        if (violation !== undefined) return yield* Effect.fail(context.fail("InvalidArgument", violation))
        const ns = context.state()
        if (ns.images.has(image.name)) return yield* Effect.fail(context.fail("AlreadyExists", `image "${image.name}"`))
        const stored: Image = { ...image, createdAt: context.now, updatedAt: context.now }
        ns.images.set(image.name, stored)
        return { image: stored }
      })),
    update: fakeUnary(world, Im.update, UpdateImageRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const name = request.image?.name ?? ""
        const current = context.view.images.get(name)
        if (request.image === undefined || current === undefined) return yield* Effect.fail(missing(context, name))
        const mask = request.updateMask ?? []
        const next: Image = { ...current, updatedAt: context.now }
        if (mask.length === 0 || mask.includes("target")) {
          const violation = targetViolation(request.image.target)
          if (violation !== undefined) return yield* Effect.fail(context.fail("InvalidArgument", violation))
          next.target = request.image.target
        }
        const labelPaths = mask.filter((path) => path === "labels" || path.startsWith("labels."))
        if (mask.length === 0 || labelPaths.length > 0) {
          next.labels = applyLabelMask(current.labels, request.image.labels, mask.length === 0 ? [] : labelPaths)
        }
        context.view.images.set(name, next)
        return { image: next }
      })),
    delete: fakeUnary(world, Im.delete, DeleteImageRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const current = context.view.images.get(request.name)
        if (current === undefined) return yield* Effect.fail(missing(context, request.name))
        if (request.target !== undefined && request.target.digest !== current.target?.digest) {
          return yield* Effect.fail(context.fail("FailedPrecondition", `image "${request.name}" target does not match`))
        }
        context.view.images.delete(request.name)
        if (request.sync) collectGarbage(context.view, context.now)
        return {}
      }))
  }
}

const uncompressedTypes = new Set(["application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar"])
const gzipTypes = new Set([
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
])

/** The daemon's apply errors are plain Go errors: gRPC code Unknown without errdefs' ": unknown" suffix. */
const applyMountpoint = "/var/lib/containerd/tmpmounts/containerd-mount0"

const applyError = (context: CallContext, detail: string): ContainerdError =>
  fromGrpcError({ code: 2, details: detail }, context.path, context.world.address)

export const makeFakeDiff = (world: World): DiffApi => {
  const D = DiffService
  return {
    apply: fakeUnary(world, D.apply, ApplyRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const layer = request.diff ?? { mediaType: "", digest: "", size: 0n, annotations: {} }
        const blob = context.view.content.get(layer.digest)
        if (blob === undefined) {
          return yield* Effect.fail(
            context.fail("NotFound", `failed to get reader from content store: content digest ${layer.digest}: not found`)
          )
        }
        let tar: Buffer
        if (uncompressedTypes.has(layer.mediaType)) tar = blob.data
        else if (gzipTypes.has(layer.mediaType)) {
          const inflated = Either.try(() => gunzipSync(blob.data))
          if (Either.isLeft(inflated)) {
            // What the daemon reports when the layer does not decompress (its mount callback reads the stream).
            return yield* Effect.fail(applyError(context, `mount callback failed on ${applyMountpoint}: ${String(inflated.left)}`))
          }
          tar = inflated.right
        } else if (layer.mediaType.endsWith("zstd")) {
          return yield* Effect.fail(context.fail("Unknown", "fake containerd cannot decompress zstd layers"))
        } else {
          return yield* Effect.fail(
            applyError(context, `failed to get stream processor for ${layer.mediaType}: no processor for media-type`)
          )
        }
        const target = findSnapshotByMounts(context.view, request.mounts)
        if (target !== undefined) target.usage += BigInt(tar.length)
        return {
          applied: {
            mediaType: "application/vnd.oci.image.layer.v1.tar",
            digest: sha256Digest(tar),
            size: BigInt(tar.length),
            annotations: {}
          }
        }
      })),
    diff: fakeUnary(world, D.diff, DiffRequest, "namespaced", (_request, context) =>
      Effect.fail(context.fail("Unimplemented", "fake containerd does not compute diffs")))
  }
}
