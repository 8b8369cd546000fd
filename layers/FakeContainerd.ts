/**
 * FakeContainerd: an in-memory containerd behind the same `Containerd` service interface, for fast unit tests
 * without root or a daemon. It follows the daemon's observable rules (the shared contract in
 * test/support/containerdContract.ts runs against both): namespaces and identifier validation, leases with
 * resources and GC, a content store that verifies digests through the real Content.Write protocol code,
 * snapshots with parent chains, containers, tasks with simulated processes, events, cgroup metrics.
 *
 * The `FakeContainerd` tag is the test's remote control: inject faults ("fail the next Tasks.Create with
 * Unavailable"), take the daemon away and back, end processes, write their output, OOM-kill them, set metrics,
 * run GC.
 */
import { Clock, Context, Effect, FiberSet, Layer, Option, PubSub, type Scope, Stream, SubscriptionRef } from "effect"
import {
  EventsService,
  ForwardRequest,
  PublishRequest,
  SubscribeRequest
} from "../src/gen/github.com/containerd/containerd/api/services/events/v1/events.js"
import {
  IntrospectionService,
  type Plugin,
  PluginInfoRequest,
  PluginsRequest
} from "../src/gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js"
import { type VersionResponse, VersionService } from "../src/gen/github.com/containerd/containerd/api/services/version/v1/version.js"
import type { Envelope } from "../src/gen/github.com/containerd/containerd/api/types/event.js"
import type { Any } from "../src/gen/google/protobuf/any.js"
import { Empty } from "../src/gen/google/protobuf/empty.js"
import { HealthCheckResponse_ServingStatus } from "../src/gen/grpc/health/v1/health.js"
import { Status } from "../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import { labelledLookup, matchesFilter } from "../src/containerd/filters.js"
import { Containerd, type ContainerdService, type EventsApi, type IntrospectionApi } from "./Containerd.js"
import { inNamespace } from "./containerd/callContext.js"
import { type ContainerdError, type ContainerdErrorReason } from "./containerd/ContainerdError.js"
import { describeFrom, makeWithLease, requireEventPayload } from "./containerd/derived.js"
import { makeFakeContainers } from "./fake-containerd/containers.js"
import { makeFakeContent, fakeServerStream, filterOf } from "./fake-containerd/content.js"
import { collectGarbage } from "./fake-containerd/gc.js"
import { makeFakeDiff, makeFakeImages, makeFakeLeases, makeFakeNamespaces } from "./fake-containerd/metadata.js"
import { makeFakeSnapshots } from "./fake-containerd/snapshots.js"
import { closeOutputs, makeFakeTasks, type ProcessBehaviour, type SimulatedProcess, writeOutput } from "./fake-containerd/tasks.js"
import { type CallContext, fakeUnary, makeCallContext, type World } from "./fake-containerd/world.js"

export type { ProcessBehaviour, SimulatedProcess } from "./fake-containerd/tasks.js"

export interface FakeContainerdOptions {
  /** Default namespace (as ContainerdOptions.namespace). Default "default". */
  readonly namespace?: string | undefined
  /** Socket path shown in error messages. Default /run/containerd/containerd.sock. */
  readonly address?: string | undefined
  /** Default: Debian 12's 1.6.20. */
  readonly version?: VersionResponse | undefined
  /** Introspection plugins. Default: what Debian 12's containerd 1.6.20 reports. */
  readonly plugins?: ReadonlyArray<Plugin> | undefined
  /** Shape of Tasks.Metrics data. Default 2 (io.containerd.cgroups.v2.Metrics). */
  readonly cgroupVersion?: 1 | 2 | undefined
  /** Script of each started process. Default: run until a signal ends it. */
  readonly behaviour?: ProcessBehaviour | undefined
}

export interface ProcessTarget {
  readonly containerId: string
  /** Exec id; empty or absent = the task's init process. */
  readonly execId?: string | undefined
  /** Default: the namespace calls go to (`inNamespace`, else the fake's default namespace). */
  readonly namespace?: string | undefined
}

export interface FakeContainerdControl {
  /** The next call of `method` (e.g. "Tasks.Create", "Content.Write") fails with `reason`. Calls queue up. */
  readonly failNext: (method: string, reason: ContainerdErrorReason, detail?: string) => Effect.Effect<void>
  /** false: every call fails as if the socket were gone (Unavailable, unreachable), until set back to true. */
  readonly setReachable: (reachable: boolean) => Effect.Effect<void>
  /** Ends a running process with `exitStatus` (as if it exited by itself). */
  readonly exitProcess: (target: ProcessTarget & { readonly exitStatus: number }) => Effect.Effect<void, ContainerdError>
  /** Writes to a running process's stdout/stderr (FIFO or file given to Tasks.Create / Tasks.Exec). */
  readonly write: (
    target: ProcessTarget & { readonly stdout?: string | undefined; readonly stderr?: string | undefined }
  ) => Effect.Effect<void, ContainerdError>
  /**
   * The task's memory limit was hit: the kernel's OOM killer ran. Publishes /tasks/oom and counts the kill in
   * the task's metrics (v1 memory_oom_control.oom_kill, v2 memory_events.oom_kill, unless set with setMetrics);
   * with `kill`, the target process dies with 137 as the OOM killer's SIGKILL does (else end it yourself).
   */
  readonly oom: (target: ProcessTarget & { readonly kill?: boolean | undefined }) => Effect.Effect<void, ContainerdError>
  /** What Tasks.Metrics reports for a task from now on (an Any of cgroup v1 or v2 Metrics). */
  readonly setMetrics: (target: ProcessTarget, metrics: Any) => Effect.Effect<void, ContainerdError>
  /** The resources last given to Tasks.Update for a task. */
  readonly taskResources: (target: ProcessTarget) => Effect.Effect<Option.Option<Any>, ContainerdError>
  /** Waits until at least `count` Events.Subscribe streams are registered (events before that are not seen). */
  readonly awaitSubscribers: (count?: number) => Effect.Effect<void>
  /** Runs the garbage collector over a namespace (default: the default namespace). */
  readonly collectGarbage: (namespace?: string) => Effect.Effect<void>
}

export class FakeContainerd extends Context.Tag("containerd-driver/FakeContainerd")<FakeContainerd, FakeContainerdControl>() {}

const plugin = (type: string, id: string, initErr?: string): Plugin => ({
  type,
  id,
  requires: [],
  platforms: [],
  exports: {},
  capabilities: [],
  initErr: initErr === undefined ? undefined : { code: 2, message: initErr, details: [] }
})

/** The plugin list of Debian 12's containerd 1.6.20 (abridged to what clients look at). */
export const debianPlugins: ReadonlyArray<Plugin> = [
  plugin("io.containerd.content.v1", "content"),
  plugin("io.containerd.snapshotter.v1", "aufs", "aufs is not supported: skip plugin"),
  plugin("io.containerd.snapshotter.v1", "btrfs", "path must be a btrfs filesystem to be used with the btrfs snapshotter: skip plugin"),
  plugin("io.containerd.snapshotter.v1", "devmapper", "devmapper not configured"),
  plugin("io.containerd.snapshotter.v1", "native"),
  plugin("io.containerd.snapshotter.v1", "overlayfs"),
  plugin("io.containerd.snapshotter.v1", "zfs", "path must be a zfs filesystem to be used with the zfs snapshotter: skip plugin"),
  plugin("io.containerd.metadata.v1", "bolt"),
  plugin("io.containerd.differ.v1", "walking"),
  plugin("io.containerd.runtime.v1", "linux"),
  plugin("io.containerd.runtime.v2", "task"),
  ...["containers", "content", "diff", "events", "healthcheck", "images", "introspection", "leases", "namespaces", "snapshots", "tasks", "version"]
    .map((id) => plugin("io.containerd.grpc.v1", id))
]

const makeEvents = (world: World): EventsApi => {
  const E = EventsService
  const validTopic = (context: CallContext, topic: string) =>
    topic.startsWith("/")
      ? Effect.void
      : Effect.fail(context.fail("InvalidArgument", `envelope topic "${topic}": must start with '/'`))
  const publish = fakeUnary(world, E.publish, PublishRequest, "namespaced", (request, context) =>
    Effect.gen(function*() {
      yield* validTopic(context, request.topic)
      if (request.event !== undefined) yield* context.publish(request.topic, request.event)
      return {}
    }))
  const forward = fakeUnary(world, E.forward, ForwardRequest, "namespaced", (request, context) =>
    Effect.gen(function*() {
      if (request.envelope === undefined) return {}
      yield* validTopic(context, request.envelope.topic)
      yield* PubSub.publish(world.events, request.envelope)
      return {}
    }))
  return {
    ...requireEventPayload({ publish, forward }),
    subscribe: fakeServerStream(world, E.subscribe, SubscribeRequest, (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const subscription = yield* PubSub.subscribe(world.events)
          // Counted once registered, so tests can wait for a subscriber instead of guessing.
          yield* Effect.acquireRelease(
            SubscriptionRef.update(world.subscribers, (n) => n + 1),
            () => SubscriptionRef.update(world.subscribers, (n) => n - 1)
          )
          return Stream.fromQueue(subscription).pipe(
            Stream.filter((envelope) =>
              matchesFilter(filter, labelledLookup({ topic: envelope.topic, namespace: envelope.namespace }))
            )
          )
        }))), "global")
  }
}

const makeIntrospection = (world: World): IntrospectionApi => {
  const I = IntrospectionService
  return {
    plugins: fakeUnary(world, I.plugins, PluginsRequest, "global", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        plugins: world.plugins.filter((p) => matchesFilter(filter, labelledLookup({ type: p.type, id: p.id })))
      }))),
    server: fakeUnary(world, I.server, Empty, "global", () =>
      Effect.succeed({ uuid: "00000000-0000-4000-8000-fakec0ntaind", pid: 0n, pidns: 0n, deprecations: [] }))({}),
    pluginInfo: fakeUnary(world, I.pluginInfo, PluginInfoRequest, "global", (_request, context) =>
      Effect.fail(context.fail("Unimplemented", "unknown method PluginInfo for service containerd.services.introspection.v1.Introspection")))
  }
}

export const make = (
  options: FakeContainerdOptions = {}
): Effect.Effect<{ readonly containerd: ContainerdService; readonly control: FakeContainerdControl }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const plugins = options.plugins ?? debianPlugins
    const world: World = {
      address: options.address ?? "/run/containerd/containerd.sock",
      defaultNamespace: options.namespace ?? "default",
      namespaces: new Map(),
      plugins,
      snapshotters: plugins.filter((p) => p.type === "io.containerd.snapshotter.v1" && p.initErr === undefined).map((p) => p.id),
      events: yield* Effect.acquireRelease(PubSub.unbounded<Envelope>(), PubSub.shutdown),
      subscribers: yield* SubscriptionRef.make(0),
      faults: new Map(),
      reachable: true,
      nextId: 1,
      nextPid: 10_000
    }
    const background = yield* FiberSet.make()
    // Pipes stay open until their process exits or its task is deleted; whatever is left closes with the fake.
    yield* Effect.addFinalizer(() => Effect.sync(() => world.namespaces.forEach(closeOutputs)))
    const runUntilSignalled: SimulatedProcess = {}
    const { processes, tasks } = makeFakeTasks({
      world,
      behaviour: options.behaviour ?? (() => runUntilSignalled),
      cgroupVersion: options.cgroupVersion ?? 2,
      background
    })

    const version = fakeUnary(world, VersionService.version, Empty, "global", () =>
      Effect.succeed(options.version ?? { version: "1.6.20~ds1", revision: "1.6.20~ds1-1+deb12u3" }))({})
    const health = Effect.as(
      makeCallContext(world, "/grpc.health.v1.Health/Check", "global"),
      HealthCheckResponse_ServingStatus.SERVING
    )
    const introspection = makeIntrospection(world)
    const leases = makeFakeLeases(world)
    const containerd: ContainerdService = {
      address: world.address,
      namespace: world.defaultNamespace,
      version,
      health,
      describe: describeFrom({ version, health, plugins: introspection.plugins }),
      withLease: makeWithLease(leases),
      introspection,
      namespaces: makeFakeNamespaces(world),
      leases,
      content: makeFakeContent(world),
      images: makeFakeImages(world),
      snapshots: makeFakeSnapshots(world),
      diff: makeFakeDiff(world),
      containers: makeFakeContainers(world),
      tasks,
      events: makeEvents(world)
    }

    /** A call context for the control, which bypasses faults and reachability. */
    const controlContext = (target: ProcessTarget) =>
      Effect.gen(function*() {
        const call = makeCallContext(world, "/fake.Control/Process", "namespaced", { control: true })
        const context = yield* (target.namespace === undefined ? call : call.pipe(inNamespace(target.namespace)))
        const task = context.view.tasks.get(target.containerId)
        if (task === undefined) return yield* Effect.fail(context.fail("NotFound", `task ${target.containerId} not found`))
        const execId = target.execId ?? ""
        const record = execId === "" ? task.init : task.execs.get(execId)
        if (record === undefined) return yield* Effect.fail(context.fail("NotFound", `process ${execId} does not exist`))
        return { context, task, record }
      })

    const control: FakeContainerdControl = {
      failNext: (method, reason, detail) =>
        Effect.sync(() => {
          const queue = world.faults.get(method) ?? []
          queue.push({ reason, detail: detail ?? `injected ${reason} failure` })
          world.faults.set(method, queue)
        }),
      setReachable: (reachable) => Effect.sync(() => { world.reachable = reachable }),
      exitProcess: (target) =>
        Effect.flatMap(controlContext(target), ({ context, record }) =>
          processes.exit(context, context.view, record, target.exitStatus)),
      write: (target) =>
        Effect.flatMap(controlContext(target), ({ context, record }) => {
          if (record.status !== Status.RUNNING) {
            return Effect.fail(context.fail("FailedPrecondition", `process ${record.execId || record.containerId} is not running`))
          }
          if (target.stdout !== undefined) writeOutput(record, "stdout", target.stdout)
          if (target.stderr !== undefined) writeOutput(record, "stderr", target.stderr)
          return Effect.void
        }),
      oom: (target) =>
        Effect.flatMap(controlContext(target), ({ context, record }) =>
          processes.outOfMemory(context, context.view, record, { kill: target.kill === true })),
      setMetrics: (target, metrics) => Effect.map(controlContext(target), ({ task }) => { task.metrics = metrics }),
      taskResources: (target) => Effect.map(controlContext(target), ({ task }) => Option.fromNullable(task.resources)),
      awaitSubscribers: (count = 1) =>
        world.subscribers.changes.pipe(Stream.takeUntil((n) => n >= count), Stream.runDrain),
      collectGarbage: (namespace) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const ns = world.namespaces.get(namespace ?? world.defaultNamespace)
          if (ns !== undefined) collectGarbage(ns, new Date(now))
        })
    }
    return { containerd, control }
  })

/** Provides both the fake `Containerd` and its `FakeContainerd` control. */
export const layer = (options: FakeContainerdOptions = {}): Layer.Layer<Containerd | FakeContainerd> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ containerd, control }) =>
      Context.make(Containerd, containerd).pipe(Context.add(FakeContainerd, control)))
  )
