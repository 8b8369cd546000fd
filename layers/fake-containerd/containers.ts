/**
 * FakeContainerd's container records: validation, labels and update masks as containerd's metadata store
 * applies them, and the /containers/* events.
 */
import { Effect, Either, Stream } from "effect"
import {
  type Container,
  ContainersService,
  CreateContainerRequest,
  DeleteContainerRequest,
  GetContainerRequest,
  ListContainersRequest,
  UpdateContainerRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/containers/v1/containers.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"
import { type AnyType, AnyTypes, pack } from "../../src/containerd/any.js"
import { labelledLookup, matchesFilter } from "../../src/containerd/filters.js"
import type { ContainersApi } from "../Containerd.js"
import { fakeServerStream, filterOf } from "./content.js"
import { type CallContext, fakeUnary, identifierViolation, type World } from "./world.js"

export const containerMissing = (context: CallContext, id: string) =>
  context.fail("NotFound", `container "${id}" in namespace "${context.namespace}"`)

const packed = <T>(type: AnyType<T>, value: T): Any => Either.getOrThrow(pack(type, value))

const containerLookup = (container: Container) =>
  labelledLookup(
    { id: container.id, image: container.image, "runtime.name": container.runtime?.name, snapshotter: container.snapshotter },
    container.labels
  )

export const makeFakeContainers = (world: World): ContainersApi => {
  const Co = ContainersService
  return {
    get: fakeUnary(world, Co.get, GetContainerRequest, "namespaced", (request, context) => {
      const container = context.view.containers.get(request.id)
      return container === undefined ? Effect.fail(containerMissing(context, request.id)) : Effect.succeed({ container })
    }),
    list: fakeUnary(world, Co.list, ListContainersRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        containers: [...context.view.containers.values()].filter((c) => matchesFilter(filter, containerLookup(c)))
      }))),
    listStream: fakeServerStream(world, Co.listStream, ListContainersRequest, (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) =>
        Stream.fromIterable(
          [...context.view.containers.values()]
            .filter((c) => matchesFilter(filter, containerLookup(c)))
            .map((container) => ({ container }))
        ))),
    create: fakeUnary(world, Co.create, CreateContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const container = request.container
        const invalid = (detail: string) => Effect.fail(context.fail("InvalidArgument", `create container failed validation: ${detail}`))
        if (container === undefined) return yield* invalid("container must be set")
        const idViolation = identifierViolation("container.ID", container.id)
        if (idViolation !== undefined) return yield* invalid(idViolation)
        if ((container.runtime?.name ?? "") === "") return yield* invalid("container.Runtime.Name must be set")
        if (container.spec === undefined) return yield* invalid("container.Spec must be set")
        if (container.snapshotKey !== "" && container.snapshotter === "") {
          return yield* invalid("container.Snapshotter must be set if container.SnapshotKey is set")
        }
        const ns = context.state()
        if (ns.containers.has(container.id)) {
          return yield* Effect.fail(context.fail("AlreadyExists", `container "${container.id}"`))
        }
        const stored: Container = { ...container, createdAt: context.now, updatedAt: context.now }
        ns.containers.set(container.id, stored)
        yield* context.publish("/containers/create", packed(AnyTypes.ContainerCreate, {
          id: stored.id,
          image: stored.image,
          runtime: { name: stored.runtime?.name ?? "", options: stored.runtime?.options }
        }))
        return { container: stored }
      })),
    update: fakeUnary(world, Co.update, UpdateContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const incoming = request.container
        const id = incoming?.id ?? ""
        const current = context.view.containers.get(id)
        if (incoming === undefined || current === undefined) return yield* Effect.fail(context.fail("NotFound", `container "${id}"`))
        const immutable = (field: string) => Effect.fail(context.fail("InvalidArgument", `cannot update "${field}" field on "${id}"`))
        const next: Container = { ...current, labels: { ...current.labels }, extensions: { ...current.extensions } }
        const mask = request.updateMask ?? []
        if (mask.length === 0) {
          if (incoming.runtime?.name !== current.runtime?.name) return yield* immutable("runtime")
          if (incoming.snapshotter !== current.snapshotter) return yield* immutable("snapshotter")
          Object.assign(next, {
            labels: incoming.labels,
            image: incoming.image,
            spec: incoming.spec,
            snapshotKey: incoming.snapshotKey,
            extensions: incoming.extensions
          })
        }
        for (const path of mask) {
          if (path === "labels") next.labels = { ...incoming.labels }
          else if (path.startsWith("labels.")) {
            const key = path.slice(7)
            const value = incoming.labels[key]
            if (value === undefined || value === "") delete next.labels[key]
            else next.labels[key] = value
          } else if (path === "image") next.image = incoming.image
          else if (path === "spec") next.spec = incoming.spec
          else if (path === "snapshotkey") next.snapshotKey = incoming.snapshotKey
          else if (path === "extensions") next.extensions = { ...incoming.extensions }
          else if (path.startsWith("extensions.")) {
            const key = path.slice(11)
            const value = incoming.extensions[key]
            if (value === undefined) delete next.extensions[key]
            else next.extensions[key] = value
          } else return yield* immutable(path)
        }
        next.updatedAt = context.now
        context.state().containers.set(id, next)
        yield* context.publish("/containers/update", packed(AnyTypes.ContainerUpdate, {
          id,
          image: next.image,
          labels: next.labels,
          snapshotKey: next.snapshotKey
        }))
        return { container: next }
      })),
    delete: fakeUnary(world, Co.delete, DeleteContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        if (!context.view.containers.delete(request.id)) return yield* Effect.fail(containerMissing(context, request.id))
        yield* context.publish("/containers/delete", packed(AnyTypes.ContainerDelete, { id: request.id }))
        return {}
      }))
  }
}
