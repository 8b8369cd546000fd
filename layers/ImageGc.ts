/**
 * ImageGc: removes the images the driver pulled for tasks once no task uses them (`gc { image, image_delay }`).
 *
 * Images are counted by the tasks using them: StartTask counts its task before the image is pulled (so a removal
 * that is due cannot take the image from under the start), RecoverTask counts the task it re-adopts (so a plugin
 * restart rebuilds the counts), DestroyTask and a failed start release it. When an image's count drops to zero its
 * removal is scheduled `image_delay` later and cancelled if a task uses it again meanwhile. When it is due, the
 * image is removed only if it still carries the mark of a pull for a task (PullOptions.labels; images pulled by an
 * operator, e.g. with `ctr`, never carry it) and no container in the namespace — a task not recovered yet, the
 * original driver's — names it. Removal deletes the image record and lets containerd's garbage collector free what
 * nothing else references, so layers shared with other images stay.
 *
 * A plugin restart forgets the schedule: once the config is known, images carrying the mark that no task has
 * counted are scheduled again, and the recoveries that follow cancel those in use.
 */
import { Context, Effect, Either, FiberMap, Layer, Option, Stream } from "effect"
import { gcSettings } from "../src/gc/GcOptions.js"
import * as Reference from "../src/image/Reference.js"
import { pulledForTaskLabel } from "../src/task/TaskIdentity.js"
import { type ContainerdService, inNamespace } from "./Containerd.js"
import { NodeConfig } from "./NodeConfig.js"

/** An image record in a containerd namespace. */
export interface ImageRef {
  readonly namespace: string
  /** The record name (the normalised reference). */
  readonly name: string
}

export class ImageGc extends Context.Tag("containerd-driver/ImageGc")<ImageGc, {
  /**
   * Counts the task as a user of the image and cancels a removal scheduled for it. A task counts for one image:
   * using another moves its count there.
   */
  readonly use: (taskId: string, image: ImageRef) => Effect.Effect<void>
  /** The task no longer uses its image; when no task does, its removal is scheduled (with `gc.image`). */
  readonly release: (taskId: string) => Effect.Effect<void>
  /** The tasks counted for each image (`namespace`, NUL, name), for tests and diagnostics. */
  readonly references: Effect.Effect<ReadonlyMap<string, ReadonlySet<string>>>
}>() {}

/** The labels a start gives the image it pulls, marking it as one the GC may remove. */
export const pulledForTask: Readonly<Record<string, string>> = { [pulledForTaskLabel]: "true" }

/** The record name of an image a task names, as the image store records it; undefined if it is no reference. */
export const imageRecordName = (image: string): string | undefined => Either.getOrUndefined(Reference.normalize(image))

const keyOf = (image: ImageRef): string => `${image.namespace}\0${image.name}`
const refOf = (key: string): ImageRef => {
  const at = key.indexOf("\0")
  return { namespace: key.slice(0, at), name: key.slice(at + 1) }
}

export const make = Effect.gen(function*() {
  const nodeConfig = yield* NodeConfig
  const users = new Map<string, Set<string>>()
  const imageOf = new Map<string, string>()
  // One lock per image: counting a user and a due removal of the same image never interleave.
  const locks = new Map<string, Effect.Semaphore>()
  const locked = (key: string) => {
    let lock = locks.get(key)
    if (lock === undefined) {
      lock = Effect.unsafeMakeSemaphore(1)
      locks.set(key, lock)
    }
    return lock.withPermits(1)
  }
  const removals = yield* FiberMap.make<string>()

  const settings = Effect.map(nodeConfig.active, Option.map((active) => gcSettings(active.config)))

  /** Removes the image if, now, it is still unused, marked as pulled for a task, and named by no container. */
  const removeIfUnused = (key: string) =>
    locked(key)(Effect.gen(function*() {
      if ((users.get(key)?.size ?? 0) > 0) return
      const enabled = yield* settings
      if (Option.isNone(enabled) || !enabled.value.image) return
      const node = yield* Effect.option(nodeConfig.node)
      if (Option.isNone(node)) return
      const image = refOf(key)
      yield* removeImage(node.value.containerd, image).pipe(
        inNamespace(image.namespace),
        Effect.catchAll((error) =>
          Effect.logWarning(`image GC could not remove ${image.name}: ${error.message}; it is tried again when a task releases it`)
        ),
        Effect.annotateLogs({ image: image.name, namespace: image.namespace })
      )
    }))

  const schedule = (key: string, delayMs: number) =>
    FiberMap.run(removals, key, Effect.zipRight(Effect.sleep(delayMs), removeIfUnused(key)))

  const cancel = (key: string) => FiberMap.remove(removals, key)

  /** Drops the task from its image's users; schedules the removal when it was the last. Under the image's lock. */
  const drop = (taskId: string, key: string) =>
    locked(key)(Effect.gen(function*() {
      const tasks = users.get(key)
      tasks?.delete(taskId)
      if (imageOf.get(taskId) === key) imageOf.delete(taskId)
      if (tasks === undefined || tasks.size > 0) return
      users.delete(key)
      const current = yield* settings
      if (Option.isSome(current) && current.value.image) yield* schedule(key, current.value.imageDelayMs)
    }))

  const use = (taskId: string, image: ImageRef) =>
    Effect.gen(function*() {
      const key = keyOf(image)
      const previous = imageOf.get(taskId)
      if (previous !== undefined && previous !== key) yield* drop(taskId, previous)
      yield* locked(key)(Effect.gen(function*() {
        let tasks = users.get(key)
        if (tasks === undefined) {
          tasks = new Set()
          users.set(key, tasks)
        }
        tasks.add(taskId)
        imageOf.set(taskId, key)
        yield* cancel(key)
      }))
    })

  const release = (taskId: string) =>
    Effect.suspend(() => {
      const key = imageOf.get(taskId)
      return key === undefined ? Effect.void : drop(taskId, key)
    })

  /** After a restart: every marked image no task has counted is scheduled, as if its last user had just left. */
  const rescheduleMarked = (namespace: string, delayMs: number) =>
    Effect.gen(function*() {
      const node = yield* nodeConfig.node
      const { images } = yield* node.containerd.images.list({ filters: [`labels."${pulledForTaskLabel}"`] }).pipe(inNamespace(namespace))
      for (const image of images) {
        const key = keyOf({ namespace, name: image.name })
        yield* locked(key)(Effect.gen(function*() {
          if ((users.get(key)?.size ?? 0) > 0 || (yield* FiberMap.has(removals, key))) return
          yield* schedule(key, delayMs)
        }))
      }
      if (images.length > 0) yield* Effect.logDebug(`image GC: ${images.length} image(s) pulled for tasks checked for use in ${namespace}`)
    }).pipe(Effect.catchAll((error) => Effect.logWarning(`image GC could not list the images of ${namespace}: ${error.message}`)))

  const swept = new Set<string>()
  yield* nodeConfig.changes.pipe(
    Stream.runForEach(Option.match({
      onNone: () => Effect.void,
      onSome: (active) => {
        const gc = gcSettings(active.config)
        if (!gc.image || swept.has(active.namespace)) return Effect.void
        swept.add(active.namespace)
        return rescheduleMarked(active.namespace, gc.imageDelayMs)
      }
    })),
    Effect.forkScoped
  )

  return ImageGc.of({
    use,
    release,
    references: Effect.sync(() => new Map([...users].map(([key, tasks]) => [key, new Set(tasks)])))
  })
})

/** Deletes the image record when it is marked and no container names it; the calls go to the current namespace. */
const removeImage = (containerd: ContainerdService, image: ImageRef) =>
  Effect.gen(function*() {
    const record = yield* containerd.images.get({ name: image.name }).pipe(
      Effect.map((response) => response.image),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(undefined))
    )
    if (record === undefined) return
    if (record.labels[pulledForTaskLabel] === undefined) {
      return yield* Effect.logDebug("image GC keeps an image the driver did not pull for a task")
    }
    const { containers } = yield* containerd.containers.list({ filters: [] })
    const user = containers.find((container) => container.image === image.name)
    if (user !== undefined) return yield* Effect.logInfo(`image GC keeps ${image.name}: container ${user.id} uses it`)
    yield* containerd.images.delete({ name: image.name, sync: true }).pipe(
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void)
    )
    yield* Effect.logInfo(`image GC removed ${image.name}, which no task has used for gc.image_delay`)
  })

export const layer: Layer.Layer<ImageGc, never, NodeConfig> = Layer.scoped(ImageGc, make)
