/**
 * A test's own view of one containerd namespace, beside the plugin under test: what is left in it (containers,
 * tasks, the tasks' rootfs snapshots, leases), a task's processes, and the removal of everything — images,
 * content, snapshots of every snapshotter the tests use — and of the namespace itself, so a run leaves nothing.
 */
import { Chunk, Effect, Either, ManagedRuntime, Schedule, Stream } from "effect"
import * as Containerd from "../../layers/Containerd.js"
import { AnyTypes, unpack } from "../../src/containerd/any.js"
import { Kind } from "../../src/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"

/** What the driver's tasks leave in a namespace; images and their committed layer snapshots are not counted. */
export interface NamespaceState {
  readonly containers: ReadonlyArray<string>
  readonly tasks: ReadonlyArray<string>
  /** Active and view snapshots: a task's rootfs is one (`<container>-snapshot`), image layers never are. */
  readonly snapshots: ReadonlyArray<string>
  readonly leases: ReadonlyArray<string>
}

export const emptyNamespace: NamespaceState = { containers: [], tasks: [], snapshots: [], leases: [] }

export interface ProcessOfTask {
  readonly pid: number
  /** Set for exec'd processes, undefined for the task's init process. */
  readonly execId: string | undefined
}

export interface ContainerdProbe {
  readonly address: string
  readonly namespace: string
  readonly run: <A, E>(effect: Effect.Effect<A, E, Containerd.Containerd>) => Promise<A>
  readonly state: () => Promise<NamespaceState>
  /** The names of the images in the namespace. */
  readonly images: () => Promise<ReadonlyArray<string>>
  /** The host pid and status of a container's task. */
  readonly task: (containerId: string) => Promise<{ readonly pid: number; readonly status: Status }>
  /** The processes of a container's task, as Tasks.ListPids reports them. */
  readonly processes: (containerId: string) => Promise<ReadonlyArray<ProcessOfTask>>
  /** Blocks until the container's task exits; its exit status. */
  readonly waitExit: (containerId: string) => Promise<number>
  /** Removes a container and its task behind the plugin's back (what an operator does). */
  readonly removeContainer: (containerId: string) => Promise<void>
  /** Kills and deletes a container's task but keeps the container (what a host reboot leaves). */
  readonly deleteTask: (containerId: string) => Promise<void>
  /** Removes everything in the namespace and the namespace itself; fails if the namespace cannot be removed. */
  readonly clean: () => Promise<void>
  readonly dispose: () => Promise<void>
}

const snapshotters = ["overlayfs", "native"]

export const containerdProbe = (address: string, namespace: string): ContainerdProbe => {
  const runtime = ManagedRuntime.make(Containerd.layer({ address, namespace, timeouts: { call: "20 seconds" } }))
  const run = <A, E>(effect: Effect.Effect<A, E, Containerd.Containerd>): Promise<A> =>
    runtime.runPromise(effect.pipe(Containerd.inNamespace(namespace)))

  const snapshotsOf = (cd: Containerd.ContainerdService, snapshotter: string) =>
    Stream.runCollect(cd.snapshots.list({ snapshotter })).pipe(
      Effect.map((chunks) => Chunk.toReadonlyArray(chunks).flatMap((r) => r.info)),
      // A snapshotter this containerd does not have holds nothing.
      Effect.catchAll(() => Effect.succeed([]))
    )

  const state = () =>
    run(Effect.gen(function*() {
      const cd = yield* Containerd.Containerd
      const { containers } = yield* cd.containers.list({})
      const { tasks } = yield* cd.tasks.list({})
      const { leases } = yield* cd.leases.list({})
      const snapshots: Array<string> = []
      for (const snapshotter of snapshotters) {
        for (const info of yield* snapshotsOf(cd, snapshotter)) {
          if (info.kind !== Kind.COMMITTED) snapshots.push(`${snapshotter}/${info.name}`)
        }
      }
      return {
        containers: containers.map((c) => c.id).sort(),
        tasks: tasks.map((t) => t.id).sort(),
        snapshots: snapshots.sort(),
        leases: leases.map((l) => l.id).sort()
      }
    }))

  const images = () =>
    run(Effect.flatMap(Containerd.Containerd, (cd) => cd.images.list({}))).then((r) => r.images.map((i) => i.name).sort())

  const task = (containerId: string) =>
    run(Effect.flatMap(Containerd.Containerd, (cd) => cd.tasks.get({ containerId }))).then((got) => ({
      pid: got.process?.pid ?? 0,
      status: got.process?.status ?? Status.UNKNOWN
    }))

  const processes = (containerId: string) =>
    run(Effect.flatMap(Containerd.Containerd, (cd) => cd.tasks.listPids({ containerId }))).then(({ processes }) =>
      processes.map((p) => {
        const details = p.info === undefined ? undefined : unpack(AnyTypes.RuncProcessDetails, p.info)
        return { pid: p.pid, execId: details !== undefined && Either.isRight(details) ? details.right.execId : undefined }
      })
    )

  const waitExit = (containerId: string) =>
    run(Effect.flatMap(Containerd.Containerd, (cd) => cd.tasks.wait({ containerId }))).then((r) => r.exitStatus)

  const deleteTask = (containerId: string) =>
    run(Effect.gen(function*() {
      const cd = yield* Containerd.Containerd
      yield* cd.tasks.kill({ containerId, signal: 9, all: true })
      yield* cd.tasks.wait({ containerId }).pipe(Effect.timeout("10 seconds"))
      yield* cd.tasks.delete({ containerId })
    }))

  const removeContainer = (containerId: string) =>
    run(Effect.gen(function*() {
      const cd = yield* Containerd.Containerd
      yield* cd.tasks.kill({ containerId, signal: 9, all: true }).pipe(Effect.ignore)
      yield* cd.tasks.wait({ containerId }).pipe(Effect.ignore, Effect.timeout("10 seconds"), Effect.ignore)
      yield* cd.tasks.delete({ containerId }).pipe(Effect.ignore)
      const { container } = yield* cd.containers.get({ id: containerId })
      yield* cd.containers.delete({ id: containerId })
      if (container !== undefined) {
        yield* cd.snapshots.remove({ snapshotter: container.snapshotter, key: container.snapshotKey }).pipe(Effect.ignore)
      }
    }))

  const clean = () =>
    run(Effect.gen(function*() {
      const cd = yield* Containerd.Containerd
      const { containers } = yield* cd.containers.list({})
      for (const container of containers) {
        yield* cd.tasks.kill({ containerId: container.id, signal: 9, all: true }).pipe(Effect.ignore)
        yield* cd.tasks.wait({ containerId: container.id }).pipe(Effect.ignore, Effect.timeout("10 seconds"), Effect.ignore)
        yield* cd.tasks.delete({ containerId: container.id }).pipe(Effect.ignore)
        yield* cd.containers.delete({ id: container.id }).pipe(Effect.ignore)
      }
      const { images } = yield* cd.images.list({})
      for (const image of images) yield* cd.images.delete({ name: image.name }).pipe(Effect.ignore)
      const { leases } = yield* cd.leases.list({})
      for (const lease of leases) yield* cd.leases.delete({ id: lease.id }).pipe(Effect.ignore)
      // Children before parents: repeat until nothing is left.
      for (const snapshotter of snapshotters) {
        for (let round = 0; round < 20; round++) {
          const infos = yield* snapshotsOf(cd, snapshotter)
          if (infos.length === 0) break
          for (const info of infos) yield* cd.snapshots.remove({ snapshotter, key: info.name }).pipe(Effect.ignore)
        }
      }
      const blobs = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.content.list({}))).flatMap((r) => r.info)
      for (const blob of blobs) yield* cd.content.delete({ digest: blob.digest }).pipe(Effect.ignore)
      const { statuses } = yield* cd.content.listStatuses({})
      for (const status of statuses) yield* cd.content.abort({ ref: status.ref }).pipe(Effect.ignore)
      // containerd's garbage collector may still be finishing; the namespace goes once it is empty.
      yield* cd.namespaces.delete({ name: namespace }).pipe(
        Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
        Effect.retry({ times: 50, schedule: Schedule.spaced("100 millis") }),
        Effect.catchAll((e) => Effect.fail(new Error(`namespace ${namespace} was not removed: ${e.message}`)))
      )
    }))

  return {
    address,
    namespace,
    run,
    state,
    images,
    task,
    processes,
    waitExit,
    removeContainer,
    deleteTask,
    clean,
    dispose: () => runtime.dispose()
  }
}
