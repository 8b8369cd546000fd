/**
 * NodeConfig: the plugin config in force (SetConfig) and, built from it, the node's working set — the
 * containerd client and the image store with its registry and credential settings. The working set is built
 * on first use and rebuilt (the old one closed) when SetConfig changes the config, so the fingerprint, the task
 * service and the commands all reach containerd and registries the same way. Tests plug FakeContainerd in
 * through `connect`.
 */
import { Context, Data, Effect, Layer, Option, Ref, type Scope, ScopedRef, Stream, SubscriptionRef } from "effect"
import { type ActiveConfig, activeConfig } from "../src/config/ActiveConfig.js"
import { type ConfigError, decodeConfig } from "../src/config/Cty.js"
import { DriverConfig } from "../src/config/DriverConfig.js"
import type { NomadDriverConfig } from "../src/gen/plugins/base/proto/base.js"
import * as Containerd from "./Containerd.js"
import type { ContainerdOptions, ContainerdService } from "./Containerd.js"
import { hostCgroupVersion } from "./HostFacts.js"
import { nodeWarnings } from "./NodeChecks.js"
import * as ImageStoreLayer from "./ImageStore.js"
import { ImageStore, type ImageStoreOptions } from "./ImageStore.js"
import { registryLayer } from "./imagestore/fromConfig.js"
import type { Registry } from "./Registry.js"

/** What a task needs from the node: the config in force, containerd, and the image store. */
export interface Node {
  readonly active: ActiveConfig
  readonly containerd: ContainerdService
  readonly images: ImageStore["Type"]
}

export class NodeConfigError extends Data.TaggedError("NodeConfigError")<{
  readonly reason: "NotConfigured"
  readonly message: string
}> {}

export class NodeConfig extends Context.Tag("containerd-driver/NodeConfig")<NodeConfig, {
  /**
   * SetConfig: called twice on the validation instance (without Nomad's own config), once on the long-lived one;
   * the last one wins.
   */
  readonly setConfig: (msgpack: Uint8Array, nomad?: NomadDriverConfig) => Effect.Effect<void, ConfigError>
  /** What Nomad told the plugin about the node in SetConfig (CPU topology, client ports), if it did. */
  readonly nomad: Effect.Effect<Option.Option<NomadDriverConfig>>
  /** The config in force, once SetConfig has been called. */
  readonly active: Effect.Effect<Option.Option<ActiveConfig>>
  /** The config in force now and after every SetConfig. */
  readonly changes: Stream.Stream<Option.Option<ActiveConfig>>
  /** The working set for the config in force. */
  readonly node: Effect.Effect<Node, NodeConfigError>
}>() {}

export interface WorkingSetOptions {
  /** Opens the containerd client; FakeContainerd in unit tests. */
  readonly connect?: (options: ContainerdOptions) => Effect.Effect<ContainerdService, never, Scope.Scope>
  /** Image store tuning (progress interval, concurrency, platform). */
  readonly imageStore?: Omit<ImageStoreOptions, "snapshotter">
  /** The registry client; default: the one the config describes (credentials, insecure registries). */
  readonly registry?: Layer.Layer<Registry>
}

export interface Options extends WorkingSetOptions {
  readonly cgroupVersion?: 1 | 2
}

/** The working set of a config, open for the current scope: what the plugin and the commands use. */
export const makeNode = (active: ActiveConfig, options: WorkingSetOptions = {}): Effect.Effect<Node, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connect = options.connect ?? Containerd.make
    const containerd = yield* connect({ address: active.config.containerd_address, namespace: active.namespace })
    const scope = yield* Effect.scope
    const context = yield* Layer.buildWithScope(
      ImageStoreLayer.layer({ ...options.imageStore, snapshotter: active.config.snapshotter }).pipe(
        Layer.provide(Layer.merge(Layer.succeed(Containerd.Containerd, containerd), options.registry ?? registryLayer(active.config)))
      ),
      scope
    )
    return { active, containerd, images: Context.get(context, ImageStore) }
  })

/** The working set as layers, for commands run outside the plugin. */
export const nodeLayer = (
  active: ActiveConfig,
  options: WorkingSetOptions = {}
): Layer.Layer<Containerd.Containerd | ImageStore> =>
  Layer.scopedContext(
    Effect.map(makeNode(active, options), (node) =>
      Context.make(Containerd.Containerd, node.containerd).pipe(Context.add(ImageStore, node.images)))
  )

const decodeDriverConfig = decodeConfig(DriverConfig, "plugin config")

const notConfigured = new NodeConfigError({
  reason: "NotConfigured",
  message: "the driver has no configuration yet (Nomad calls SetConfig before any task)"
})

export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const cgroupVersion = options.cgroupVersion ?? hostCgroupVersion()
    const active = yield* SubscriptionRef.make(Option.none<ActiveConfig>())
    const working = yield* ScopedRef.make(() => Option.none<{ readonly key: string; readonly node: Node }>())
    // Concurrent first uses build one working set, not one each.
    const building = yield* Effect.makeSemaphore(1)

    const nomad = yield* Ref.make(Option.none<NomadDriverConfig>())
    const setConfig = (msgpack: Uint8Array, nomadConfig?: NomadDriverConfig) =>
      decodeDriverConfig(msgpack).pipe(
        Effect.tap(() => (nomadConfig === undefined ? Effect.void : Ref.set(nomad, Option.some(nomadConfig)))),
        Effect.map((config) => activeConfig(config, cgroupVersion)),
        Effect.tap((current) => SubscriptionRef.set(active, Option.some(current))),
        Effect.tap((current) =>
          Effect.flatMap(nodeWarnings(current), Effect.forEach((warning) => Effect.logWarning(warning), { discard: true }))
        ),
        Effect.tap((current) =>
          Effect.logDebug("plugin config applied").pipe(
            Effect.annotateLogs({
              containerd_address: current.config.containerd_address,
              namespace: current.namespace,
              runtime: current.config.containerd_runtime
            })
          )
        ),
        Effect.asVoid,
        Effect.withSpan("NodeConfig.setConfig")
      )

    const node = building.withPermits(1)(Effect.gen(function*() {
      const current = yield* SubscriptionRef.get(active)
      if (Option.isNone(current)) return yield* notConfigured
      const key = JSON.stringify(current.value)
      const existing = yield* ScopedRef.get(working)
      if (Option.isSome(existing) && existing.value.key === key) return existing.value.node
      yield* ScopedRef.set(working, Effect.map(makeNode(current.value, options), (built) => Option.some({ key, node: built })))
      return Option.getOrThrow(yield* ScopedRef.get(working)).node
    }))

    return NodeConfig.of({
      setConfig,
      active: SubscriptionRef.get(active),
      nomad: Ref.get(nomad),
      changes: active.changes,
      node
    })
  })

export const layer = (options: Options = {}): Layer.Layer<NodeConfig> => Layer.scoped(NodeConfig, make(options))
