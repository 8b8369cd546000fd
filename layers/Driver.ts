/**
 * The driver as Nomad sees it before any task runs: its configuration, the fingerprint stream,
 * the task-event stream and the static answers (schemas, capabilities). Task lifecycle RPCs live
 * in their own service.
 */
import {
  Context,
  type Duration,
  Effect,
  Layer,
  Option,
  PubSub,
  Queue,
  Ref,
  type Scope,
  ScopedRef,
  Stream,
  SubscriptionRef
} from "effect"
import { ConfigError, decodeConfig } from "../src/config/Cty.js"
import { DriverConfig } from "../src/config/DriverConfig.js"
import {
  type DriverCapabilities,
  DriverCapabilities_FSIsolation,
  DriverCapabilities_MountConfigs,
  type DriverTaskEvent,
  type FingerprintResponse,
  FingerprintResponse_HealthState,
  NetworkIsolationSpec_NetworkIsolationMode
} from "../src/gen/plugins/drivers/proto/driver.js"
import { type ContainerdProbe, defaultNamespace, fingerprint } from "../src/plugin/Fingerprint.js"
import * as Containerd from "./Containerd.js"
import type { ContainerdOptions, ContainerdService } from "./Containerd.js"
import { hostCgroupVersion } from "./HostFacts.js"

/** The driver config in force, with the namespace resolved for this node. */
export interface ActiveConfig {
  readonly config: DriverConfig
  readonly namespace: string
  readonly cgroupVersion: 1 | 2
}

export class Driver extends Context.Tag("containerd-driver/Driver")<Driver, {
  /** SetConfig: called twice on the validation instance, once on the long-lived one; last one wins. */
  readonly setConfig: (msgpack: Uint8Array) => Effect.Effect<void, ConfigError>
  /** The config in force, once SetConfig has been called. */
  readonly active: Effect.Effect<Option.Option<ActiveConfig>>
  /** First response at once, then a new one whenever something changes; never ends. */
  readonly fingerprint: Stream.Stream<FingerprintResponse>
  /** Events for Nomad's task event log, shared by every subscriber; never ends. */
  readonly taskEvents: Stream.Stream<DriverTaskEvent>
  readonly publishEvent: (event: DriverTaskEvent) => Effect.Effect<void>
  readonly capabilities: DriverCapabilities
}>() {}

export interface Options {
  /** Opens the containerd client for a config; FakeContainerd in unit tests. */
  readonly connect?: (options: ContainerdOptions) => Effect.Effect<ContainerdService, never, Scope.Scope>
  /** How often a healthy containerd is asked again (an unhealthy one every 2 s). */
  readonly fingerprintInterval?: Duration.DurationInput
  readonly cgroupVersion?: 1 | 2
}

export const capabilities: DriverCapabilities = {
  sendSignals: true,
  exec: true,
  fsIsolation: DriverCapabilities_FSIsolation.IMAGE,
  networkIsolationModes: [
    NetworkIsolationSpec_NetworkIsolationMode.HOST,
    NetworkIsolationSpec_NetworkIsolationMode.GROUP,
    NetworkIsolationSpec_NetworkIsolationMode.TASK
  ],
  mustCreateNetwork: false,
  mountConfigs: DriverCapabilities_MountConfigs.ANY_MOUNTS,
  disableLogCollection: false,
  dynamicWorkloadUsers: false
}

const decodeDriverConfig = decodeConfig(DriverConfig, "plugin config")

/** What containerd says about itself; never fails: an unreachable daemon is a result to report. */
export const probeContainerd = (containerd: ContainerdService): Effect.Effect<ContainerdProbe> =>
  containerd.describe.pipe(
    Effect.timeoutFail({
      duration: "5 seconds",
      onTimeout: () => `containerd at ${containerd.address} did not answer within 5 seconds`
    }),
    Effect.match({
      onSuccess: (facts): ContainerdProbe => ({ _tag: "Reachable", facts }),
      onFailure: (error): ContainerdProbe => ({
        _tag: "Unreachable",
        message: typeof error === "string"
          ? error
          : error.unreachable
          ? error.message
          : `containerd at ${containerd.address} answered with an error: ${error.message}`
      })
    })
  )

export const make = (options: Options) =>
  Effect.gen(function*() {
    const cgroupVersion = options.cgroupVersion ?? hostCgroupVersion()
    const connect = options.connect ?? Containerd.make
    const active = yield* SubscriptionRef.make(Option.none<ActiveConfig>())
    // One client per configured socket and namespace, replaced (and closed) when SetConfig changes them.
    const connection = yield* ScopedRef.make(() => Option.none<{ readonly key: string; readonly client: ContainerdService }>())
    const connectionFor = (current: ActiveConfig) =>
      Effect.gen(function*() {
        const key = `${current.config.containerd_address}\0${current.namespace}`
        const existing = yield* ScopedRef.get(connection)
        if (Option.isSome(existing) && existing.value.key === key) return existing.value.client
        yield* ScopedRef.set(
          connection,
          Effect.map(connect({ address: current.config.containerd_address, namespace: current.namespace }), (client) =>
            Option.some({ key, client }))
        )
        return Option.getOrThrow(yield* ScopedRef.get(connection)).client
      })
    const events = yield* Effect.acquireRelease(PubSub.sliding<DriverTaskEvent>(1024), PubSub.shutdown)
    const healthyInterval = options.fingerprintInterval ?? "5 seconds"
    const recoveryInterval = "2 seconds"

    const setConfig = (msgpack: Uint8Array) =>
      decodeDriverConfig(msgpack).pipe(
        Effect.map((config) => ({ config, cgroupVersion, namespace: config.namespace ?? defaultNamespace(cgroupVersion) })),
        Effect.tap((current) => Ref.set(active, Option.some(current))),
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
        Effect.withSpan("Driver.setConfig")
      )

    const fingerprintOnce = (current: ActiveConfig) =>
      connectionFor(current).pipe(
        Effect.flatMap(probeContainerd),
        Effect.map((probe) => fingerprint(current.config, current, probe))
      )

    // Re-probe on a timer (often while unhealthy, so recovery is noticed quickly) and whenever the
    // config changes; report only what differs.
    const probeForever = (current: ActiveConfig) =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          const latest = yield* Queue.sliding<FingerprintResponse>(1)
          yield* fingerprintOnce(current).pipe(
            Effect.tap((response) => Queue.offer(latest, response)),
            Effect.flatMap((response) =>
              Effect.sleep(
                response.health === FingerprintResponse_HealthState.HEALTHY ? healthyInterval : recoveryInterval
              )
            ),
            Effect.forever,
            Effect.forkScoped
          )
          return Stream.fromQueue(latest)
        })
      )
    const fingerprintStream = active.changes.pipe(
      Stream.flatMap(
        Option.match({ onNone: () => Stream.succeed(notConfigured), onSome: probeForever }),
        { switch: true }
      ),
      Stream.changesWith((a, b) => JSON.stringify(a, bigints) === JSON.stringify(b, bigints))
    )

    return Driver.of({
      setConfig,
      active: Ref.get(active),
      fingerprint: fingerprintStream,
      taskEvents: Stream.fromPubSub(events),
      publishEvent: (event) => PubSub.publish(events, event),
      capabilities
    })
  })

const notConfigured: FingerprintResponse = {
  attributes: {},
  health: FingerprintResponse_HealthState.UNDETECTED,
  healthDescription: "waiting for the plugin config (SetConfig)",
  err: ""
}

const bigints = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v)

export const layer = (options: Options) => Layer.scoped(Driver, make(options))
