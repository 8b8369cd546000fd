/**
 * Pull progress: phases (resolve → fetch → unpack → done) and per-layer state and byte counts, reported to
 * listeners in order. Phase and layer-state changes are reported at once; byte counts at most once per interval,
 * so a listener (a CLI progress line, Nomad's "Downloading image" task events) never sees per-chunk traffic.
 */
import { Clock, Duration, Effect } from "effect"

export type PullPhase = "resolve" | "fetch" | "unpack" | "done"

export type FetchStatus =
  | "waiting"
  /** Already in the content store: nothing to download. */
  | "present"
  | "downloading"
  | "downloaded"
  /** Another pull, in this process or another, is writing the same blob into the content store: waiting for it. */
  | "blocked"

export type UnpackStatus =
  | "waiting"
  | "unpacking"
  /** Its snapshot exists (unpacked now or before). */
  | "unpacked"

export interface LayerProgress {
  readonly digest: string
  readonly size: number
  readonly downloaded: number
  readonly fetch: FetchStatus
  readonly unpack: UnpackStatus
}

export interface PullProgress {
  /** The normalised reference being pulled. */
  readonly image: string
  readonly phase: PullPhase
  readonly layers: ReadonlyArray<LayerProgress>
  /** Bytes downloaded so far, over all layers that had to be downloaded. */
  readonly downloadedBytes: number
  /** Total size of the layers that have to be downloaded (present layers excluded). */
  readonly totalBytes: number
}

export type ProgressListener = (progress: PullProgress) => Effect.Effect<void>

export interface ProgressTracker {
  readonly phase: (phase: PullPhase) => Effect.Effect<void>
  readonly layers: (layers: ReadonlyArray<{ readonly digest: string; readonly size: number }>) => Effect.Effect<void>
  readonly fetch: (index: number, status: FetchStatus) => Effect.Effect<void>
  readonly unpack: (index: number, status: UnpackStatus) => Effect.Effect<void>
  /** Counts downloaded bytes of layer `index`; reported when the interval has passed since the last report. */
  readonly bytes: (index: number, count: number) => Effect.Effect<void>
}

interface MutableLayer {
  digest: string
  size: number
  downloaded: number
  fetch: FetchStatus
  unpack: UnpackStatus
}

export const makeTracker = (
  image: string,
  interval: Duration.DurationInput,
  report: ProgressListener
): ProgressTracker => {
  const intervalMillis = Duration.toMillis(interval)
  let phase: PullPhase = "resolve"
  let layers: Array<MutableLayer> = []
  let lastReport = Number.NEGATIVE_INFINITY

  const snapshot = (): PullProgress => {
    let downloadedBytes = 0
    let totalBytes = 0
    for (const layer of layers) {
      if (layer.fetch === "present") continue
      downloadedBytes += layer.downloaded
      totalBytes += layer.size
    }
    return {
      image,
      phase,
      layers: layers.map((layer) => ({ ...layer })),
      downloadedBytes,
      totalBytes
    }
  }

  // Layers are fetched and unpacked by concurrent fibers: one report at a time, its snapshot taken once it is
  // its turn, so listeners see the states in the order they happened (never an older snapshot after a newer one).
  const turn = Effect.unsafeMakeSemaphore(1)
  const emit = turn.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) => {
    lastReport = now
    return Effect.suspend(() => report(snapshot()))
  }))

  return {
    phase: (next) =>
      Effect.suspend(() => {
        if (next === phase) return Effect.void
        phase = next
        return emit
      }),
    layers: (descriptors) =>
      Effect.suspend(() => {
        layers = descriptors.map(({ digest, size }) => ({ digest, size, downloaded: 0, fetch: "waiting", unpack: "waiting" }))
        return emit
      }),
    fetch: (index, status) =>
      Effect.suspend(() => {
        const layer = layers[index]
        if (layer === undefined) return Effect.void
        // A download starts from nothing, a retried one too (layers/imagestore/fetchImage.ts): its bytes count once.
        if (status === "downloading") layer.downloaded = 0
        if (layer.fetch === status) return Effect.void
        layer.fetch = status
        if (status === "downloaded") layer.downloaded = layer.size
        return emit
      }),
    unpack: (index, status) =>
      Effect.suspend(() => {
        const layer = layers[index]
        if (layer === undefined || layer.unpack === status) return Effect.void
        layer.unpack = status
        return emit
      }),
    bytes: (index, count) =>
      Effect.suspend(() => {
        const layer = layers[index]
        if (layer === undefined) return Effect.void
        layer.downloaded += count
        return Effect.flatMap(Clock.currentTimeMillis, (now) => (now - lastReport >= intervalMillis ? emit : Effect.void))
      })
  }
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/** One line for humans, e.g. "Downloading image 127.0.0.1:5000/app:1: 12.3 MB of 95.5 MB (2/4 layers)". */
export const describe = (progress: PullProgress): string => {
  const total = progress.layers.length
  const fetched = progress.layers.filter((layer) => layer.fetch === "present" || layer.fetch === "downloaded").length
  const unpacked = progress.layers.filter((layer) => layer.unpack === "unpacked").length
  switch (progress.phase) {
    case "resolve":
      return `Resolving image ${progress.image}`
    case "fetch": {
      const blocked = progress.layers.filter((layer) => layer.fetch === "blocked").length
      return `Downloading image ${progress.image}: ${megabytes(progress.downloadedBytes)} of ` +
        `${megabytes(progress.totalBytes)} (${fetched}/${total} layers)` +
        (blocked > 0 ? `; waiting for another pull of the same ${blocked > 1 ? `${blocked} layers` : "layer"}` : "")
    }
    case "unpack":
      return `Unpacking image ${progress.image} (${unpacked}/${total} layers)`
    case "done":
      return `Image ${progress.image} is ready`
  }
}
