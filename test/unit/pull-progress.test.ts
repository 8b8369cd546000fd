/**
 * Pull progress without a terminal: the tracker reports states in the order they happened even when a listener
 * is slow and layers move concurrently, and the pull command's plain printer shows byte counts per layer and
 * overall while downloading (a log of a slow pull is not silent), once per report, in order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { makeTracker, type PullProgress } from "../../layers/imagestore/Progress.js"
import { progressReporter } from "../../layers/PullCommand.js"

const digestA = `sha256:${"a".repeat(64)}`
const digestB = `sha256:${"b".repeat(64)}`

describe("progress tracker", () => {
  it.live("a slow listener still receives reports in the order the states changed", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string>> = []
      const tracker = makeTracker("example.com/app:1", "1 hour", (progress) =>
        Effect.gen(function*() {
          // The report of a layer that started downloading is slow to be handled; the next one is not.
          if (progress.layers.some((layer) => layer.fetch === "downloading")) yield* Effect.sleep("50 millis")
          seen.push(progress.layers.map((layer) => layer.fetch))
        }))
      yield* tracker.layers([{ digest: digestA, size: 10 }, { digest: digestB, size: 20 }])
      const first = yield* Effect.fork(tracker.fetch(0, "downloading"))
      // The first report is now being handled (the fork ran up to its sleep); the second state change comes after.
      yield* Effect.yieldNow()
      yield* Effect.all([tracker.fetch(0, "downloaded"), Fiber.join(first)], { concurrency: "unbounded" })
      expect(seen).toEqual([
        ["waiting", "waiting"],
        ["downloading", "waiting"],
        ["downloaded", "waiting"]
      ])
    }))
})

describe("a retried download", () => {
  it.effect("counts its bytes once: the retry starts the layer's count again", () =>
    Effect.gen(function*() {
      const reports: Array<PullProgress> = []
      const tracker = makeTracker("example.com/app:1", "0 millis", (progress) => Effect.sync(() => reports.push(progress)))
      yield* tracker.layers([{ digest: digestA, size: 100 }])
      yield* tracker.fetch(0, "downloading")
      yield* tracker.bytes(0, 60)
      // The connection dropped; the blob is asked for again from its start.
      yield* tracker.fetch(0, "downloading")
      yield* tracker.bytes(0, 100)
      const last = reports.at(-1)!
      expect(last.layers[0]!.downloaded).toBe(100)
      expect(last.downloadedBytes).toBe(100)
    }))
})

const progress = (phase: PullProgress["phase"], downloaded: [number, number]): PullProgress => ({
  image: "example.com/app:1",
  phase,
  layers: [
    { digest: digestA, size: 3_000_000, downloaded: downloaded[0], fetch: downloaded[0] === 3_000_000 ? "downloaded" : "downloading", unpack: "waiting" },
    { digest: digestB, size: 5_000_000, downloaded: downloaded[1], fetch: "downloading", unpack: "waiting" }
  ],
  downloadedBytes: downloaded[0] + downloaded[1],
  totalBytes: 8_000_000
})

describe("pull command progress without a terminal", () => {
  it.effect("prints the bytes done of each downloading layer and overall at each report, and nothing when nothing moved", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const reporter = progressReporter({ isTTY: false, write: (chunk: string | Uint8Array) => written.push(String(chunk)) > 0 })
      yield* reporter.report(progress("fetch", [0, 0]))
      yield* reporter.report(progress("fetch", [1_000_000, 500_000]))
      yield* reporter.report(progress("fetch", [1_000_000, 500_000]))
      yield* reporter.report(progress("fetch", [3_000_000, 2_500_000]))
      expect(written.join("").split("\n")).toEqual([
        "Downloading image example.com/app:1: 0.0 MB of 8.0 MB (0/2 layers)",
        "layer aaaaaaaaaaaa (3.0 MB): downloading",
        "layer bbbbbbbbbbbb (5.0 MB): downloading",
        "layer aaaaaaaaaaaa (3.0 MB): 1.0 MB of 3.0 MB",
        "layer bbbbbbbbbbbb (5.0 MB): 0.5 MB of 5.0 MB",
        "Downloading image example.com/app:1: 1.5 MB of 8.0 MB (0/2 layers)",
        "layer aaaaaaaaaaaa (3.0 MB): downloaded",
        "layer bbbbbbbbbbbb (5.0 MB): 2.5 MB of 5.0 MB",
        "Downloading image example.com/app:1: 5.5 MB of 8.0 MB (1/2 layers)",
        ""
      ])
    }))
})
