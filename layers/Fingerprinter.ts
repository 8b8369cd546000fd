/**
 * Fingerprinter: the driver's health on this node as Nomad's Fingerprint stream wants it — a first answer at
 * once, then a new one whenever something changes. containerd is asked again every few seconds (more often
 * while it is unreachable, so recovery is noticed quickly) and whenever SetConfig changes the config.
 */
import { Context, type Duration, Effect, Layer, Option, Queue, Stream } from "effect"
import type { ActiveConfig } from "../src/config/ActiveConfig.js"
import { type FingerprintResponse, FingerprintResponse_HealthState } from "../src/gen/plugins/drivers/proto/driver.js"
import { type ContainerdProbe, fingerprint } from "../src/plugin/Fingerprint.js"
import type { ContainerdService } from "./Containerd.js"
import { NodeConfig } from "./NodeConfig.js"

export class Fingerprinter extends Context.Tag("containerd-driver/Fingerprinter")<Fingerprinter, {
  /** First response at once, then one whenever something changes; never ends. */
  readonly stream: Stream.Stream<FingerprintResponse>
}>() {}

export interface Options {
  /** How often a healthy containerd is asked again (an unhealthy one every 2 s). */
  readonly interval?: Duration.DurationInput
}

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

const notConfigured: FingerprintResponse = {
  attributes: {},
  health: FingerprintResponse_HealthState.UNDETECTED,
  healthDescription: "waiting for the plugin config (SetConfig)",
  err: ""
}

const bigints = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v)

export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const nodeConfig = yield* NodeConfig
    const healthyInterval = options.interval ?? "5 seconds"
    const recoveryInterval = "2 seconds"

    const fingerprintOnce = (current: ActiveConfig) =>
      nodeConfig.node.pipe(
        Effect.flatMap((node) => probeContainerd(node.containerd)),
        Effect.map((probe) => fingerprint(current, probe)),
        Effect.catchTag("NodeConfigError", () => Effect.succeed(notConfigured))
      )

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

    return Fingerprinter.of({
      stream: nodeConfig.changes.pipe(
        Stream.flatMap(
          Option.match({ onNone: () => Stream.succeed(notConfigured), onSome: probeForever }),
          { switch: true }
        ),
        Stream.changesWith((a, b) => JSON.stringify(a, bigints) === JSON.stringify(b, bigints))
      )
    })
  })

export const layer = (options: Options = {}): Layer.Layer<Fingerprinter, never, NodeConfig> =>
  Layer.effect(Fingerprinter, make(options))
