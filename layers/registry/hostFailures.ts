/**
 * Mirrors that failed during one pull: reported once each as a warning of that pull (so they reach the task's
 * events through the ImageStore's `onWarning`), and, when they could not be reached at all, skipped for the
 * rest of the pull instead of costing a timeout per blob. Outside `withHostFailures` a failure is only logged.
 *
 * The collector travels in a FiberRef, so the downloads the pull forks report into it too.
 */
import { Effect, FiberRef, Option } from "effect"
import type { RegistryError } from "../../src/image/RegistryProtocol.js"

interface Collector {
  readonly messages: Array<string>
  readonly reported: Set<string>
  /** Hosts that could not be reached, with how they failed. */
  readonly down: Map<string, RegistryError>
}

const current = FiberRef.unsafeMake<Collector | undefined>(undefined)

/** Runs a pull, adding the messages of the mirrors that failed during it to the warnings it yields. */
export const withHostFailures = <A extends { readonly warnings: ReadonlyArray<string> }, E, R>(
  pull: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const collector: Collector = { messages: [], reported: new Set(), down: new Map() }
    return Effect.locally(pull, current, collector).pipe(
      Effect.map((result) =>
        collector.messages.length === 0 ? result : { ...result, warnings: [...result.warnings, ...collector.messages] }
      )
    )
  })

/** Tells the pull (once per host) that `host` failed and another was tried; logged when no pull listens. */
export const reportHostFailure = (host: string, message: string): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(current), (collector) => {
    if (collector === undefined) return Effect.logWarning(message)
    if (!collector.reported.has(host)) {
      collector.reported.add(host)
      collector.messages.push(message)
    }
    return Effect.void
  })

/** Remembers for the rest of the pull that `host` could not be reached, and how it failed. */
export const markDown = (host: string, error: RegistryError): Effect.Effect<void> =>
  Effect.map(FiberRef.get(current), (collector) => {
    collector?.down.set(host, error)
  })

/** How `host` failed when it could not be reached earlier in this pull, if it did. */
export const downEarlier = (host: string): Effect.Effect<Option.Option<RegistryError>> =>
  Effect.map(FiberRef.get(current), (collector) => Option.fromNullable(collector?.down.get(host)))
