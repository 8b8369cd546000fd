/**
 * In-process pulls for bench/pull.mjs (which bundles this file in memory): the ImageStore the plugin builds from
 * its config, kept alive across pulls as in the long-running plugin, with a timeline of each pull's phases and
 * per-layer steps (from the progress listener) for finding where the time goes.
 */
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import * as Containerd from "../layers/Containerd.js"
import { ImageStore, type PullProgress } from "../layers/ImageStore.js"
import { imageStoreLayer } from "../layers/imagestore/fromConfig.js"
import { DriverConfig } from "../src/config/DriverConfig.js"

export interface PullBenchOptions {
  readonly address: string
  readonly namespace: string
  readonly snapshotter: string
  /** Layers downloaded at the same time (the ImageStore's default when absent). */
  readonly maxConcurrentDownloads?: number | undefined
}

/** One step of a pull, `at` milliseconds after the pull started, e.g. "layer 2 downloaded". */
export interface TimelineEvent {
  readonly at: number
  readonly step: string
}

export interface TimedPull {
  readonly ms: number
  readonly timeline: ReadonlyArray<TimelineEvent>
}

export interface Puller {
  readonly pull: (image: string) => Promise<TimedPull>
  readonly close: () => Promise<void>
}

export const openPuller = async (options: PullBenchOptions): Promise<Puller> => {
  const config = Schema.decodeUnknownSync(DriverConfig)({
    containerd_address: options.address,
    namespace: options.namespace,
    snapshotter: options.snapshotter
  })
  // Byte counts are left out of the timeline (an interval longer than any pull); state changes are reported at once.
  const runtime = ManagedRuntime.make(
    imageStoreLayer(config, { progressInterval: "1 hour", maxConcurrentDownloads: options.maxConcurrentDownloads }).pipe(
      Layer.provide(Containerd.layer({ address: options.address, namespace: options.namespace }))
    )
  )
  await runtime.runPromise(Effect.void)

  const pull = async (image: string): Promise<TimedPull> => {
    const timeline: Array<TimelineEvent> = []
    const seen = new Map<string, string>()
    let started = 0
    const record = (key: string, state: string) => {
      if (seen.get(key) === state) return
      seen.set(key, state)
      timeline.push({ at: performance.now() - started, step: `${key} ${state}` })
    }
    const onProgress = (progress: PullProgress) =>
      Effect.sync(() => {
        record("phase", progress.phase)
        progress.layers.forEach((layer, index) => {
          record(`layer ${index} fetch`, layer.fetch)
          record(`layer ${index} unpack`, layer.unpack)
        })
      })
    started = performance.now()
    await runtime.runPromise(Effect.flatMap(ImageStore, (store) => store.pull(image, { onProgress })))
    return { ms: performance.now() - started, timeline }
  }

  return { pull, close: () => runtime.dispose() }
}
