/**
 * `containerd-driver pull [--config FILE] [--force] [--user USER] [--timeout DURATION] IMAGE`: pulls and
 * unpacks an image exactly as the plugin would — same containerd namespace and snapshotter, same registry
 * settings and credential sources from the plugin config — so an operator can pre-pull images or see why a pull
 * fails. It follows the plugin's pull policy: a tag is checked with the registry, a digest-pinned present image is
 * not, and an unreachable registry leaves a present image usable with a warning. Progress and warnings go to stderr
 * (one redrawn line on a terminal, else a line per step); the image name and digest go to stdout.
 */
import { Duration, Effect, Either, Option, Redacted } from "effect"
import { parseGoDuration } from "../src/config/Duration.js"
import type { UserPassword } from "../src/image/Credentials.js"
import { nodeLayer } from "./NodeConfig.js"
import { loadActiveConfig } from "./CliConfig.js"
import { describeProgress, type FetchStatus, ImageStore, type PullProgress } from "./ImageStore.js"

export interface PullArgs {
  readonly image: string
  readonly configFile: string | undefined
  readonly force: boolean
  readonly auth: UserPassword | undefined
  readonly timeoutMillis: number
}

/** The options as the command line gives them, before the checks the parser cannot make. */
export interface PullOptions {
  readonly image: string
  readonly configFile: string | undefined
  readonly force: boolean
  readonly user: string | undefined
  readonly timeout: string
}

export const passwordVariable = "CONTAINERD_DRIVER_REGISTRY_PASSWORD"

/** The pull's arguments, or why they cannot be used: the password comes from the environment, never argv. */
export const pullArgs = (options: PullOptions, env: NodeJS.ProcessEnv): Either.Either<PullArgs, string> => {
  let auth: UserPassword | undefined
  if (options.user !== undefined) {
    if (options.user === "") return Either.left("--user needs a user name")
    if (options.user.includes(":")) {
      return Either.left(`--user takes only the user name: put the password in $${passwordVariable}`)
    }
    const password = env[passwordVariable]
    if (password === undefined || password === "") return Either.left(`--user ${options.user} needs the password in $${passwordVariable}`)
    auth = { username: options.user, password: Redacted.make(password) }
  }
  const timeoutMillis = parseGoDuration(options.timeout)
  if (timeoutMillis === undefined || timeoutMillis <= 0) {
    return Either.left(`--timeout ${JSON.stringify(options.timeout)} is not a positive Go duration, e.g. 5m`)
  }
  return Either.right({ image: options.image, configFile: options.configFile, force: options.force, auth, timeoutMillis })
}

const shortDigest = (digest: string): string => digest.replace(/^sha256:/, "").slice(0, 12)

const fetchWords: Readonly<Record<Exclude<FetchStatus, "waiting">, string>> = {
  present: "already present",
  downloading: "downloading",
  downloaded: "downloaded",
  blocked: "waiting for another pull of the same layer"
}

/** How often byte counts are printed without a terminal. */
const plainInterval = Duration.seconds(5)

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/**
 * Progress on stderr: a redrawn line on a terminal. Otherwise plain lines: one per phase and per layer step, and
 * while downloading, at each byte-count report (every `plainInterval`), the bytes done of each layer still
 * downloading and the overall line — so a slow pull to a log file is never silent for long.
 */
export const progressReporter = (stream: Pick<NodeJS.WriteStream, "isTTY" | "write">) => {
  const seen = new Map<string, string>()
  const bytesShown = new Map<string, number>()
  let drawn = false
  const report = (progress: PullProgress) =>
    Effect.sync(() => {
      if (stream.isTTY) {
        stream.write(`\r\x1b[K${describeProgress(progress)}`)
        drawn = true
        return
      }
      const lines: Array<string> = []
      const step = (key: string, state: string, line: string) => {
        if (seen.get(key) === state) return
        seen.set(key, state)
        lines.push(line)
      }
      const phaseLine = describeProgress(progress)
      step("phase", progress.phase, phaseLine)
      let bytesMoved = false
      for (const layer of progress.layers) {
        const name = `layer ${shortDigest(layer.digest)} (${megabytes(layer.size)})`
        if (layer.fetch !== "waiting") step(`fetch ${layer.digest}`, layer.fetch, `${name}: ${fetchWords[layer.fetch]}`)
        if (layer.fetch === "downloading" && layer.downloaded > (bytesShown.get(layer.digest) ?? 0)) {
          bytesShown.set(layer.digest, layer.downloaded)
          bytesMoved = true
          lines.push(`${name}: ${megabytes(layer.downloaded)} of ${megabytes(layer.size)}`)
        }
        if (layer.unpack !== "waiting") step(`unpack ${layer.digest}`, layer.unpack, `${name}: ${layer.unpack}`)
      }
      if (bytesMoved && progress.phase === "fetch" && lines[0] !== phaseLine) lines.push(phaseLine)
      if (lines.length > 0) stream.write(`${lines.join("\n")}\n`)
    })
  const finish = Effect.sync(() => {
    if (drawn) stream.write("\n")
    drawn = false
  })
  /** A warning on a line of its own (after a redrawn progress line). */
  const warn = (message: string) =>
    Effect.sync(() => {
      stream.write(`${drawn ? "\n" : ""}warning: ${message}\n`)
      drawn = false
    })
  return { report, finish, warn }
}

/** Resolves when the user presses Ctrl-C (the plugin entry point otherwise ignores SIGINT). */
const interrupted = Effect.async<void>((resume) => {
  const onSignal = () => resume(Effect.void)
  process.once("SIGINT", onSignal)
  return Effect.sync(() => {
    process.off("SIGINT", onSignal)
  })
})

export const program = (options: PullOptions, env: NodeJS.ProcessEnv): Effect.Effect<number> =>
  Effect.gen(function*() {
    const parsed = pullArgs(options, env)
    if (Either.isLeft(parsed)) {
      process.stderr.write(`${parsed.left}\n`)
      return 2
    }
    const { image } = parsed.right
    const decoded = yield* Effect.either(loadActiveConfig(parsed.right.configFile))
    if (Either.isLeft(decoded)) {
      process.stderr.write(`${decoded.left}\n`)
      return 2
    }
    const { namespace } = decoded.right
    const reporter = progressReporter(process.stderr)
    const store = nodeLayer(decoded.right, {
      imageStore: { progressInterval: process.stderr.isTTY ? Duration.millis(200) : plainInterval }
    })
    const pulled = ImageStore.pipe(
      Effect.flatMap((images) =>
        images.pull(image, {
          auth: parsed.right.auth,
          forcePull: parsed.right.force,
          timeout: parsed.right.timeoutMillis,
          onProgress: reporter.report,
          onWarning: reporter.warn
        })
      ),
      Effect.provide(store),
      Effect.either,
      Effect.map(Option.some)
    )
    const outcome = yield* Effect.raceFirst(pulled, Effect.as(interrupted, Option.none()))
    yield* reporter.finish
    if (Option.isNone(outcome)) {
      process.stderr.write(`pull of ${image} interrupted\n`)
      return 130
    }
    if (Either.isLeft(outcome.value)) {
      const error = outcome.value.left
      process.stderr.write(`${error.message}${error.recoverable ? " (temporary: retrying later may succeed)" : ""}\n`)
      return 1
    }
    const pulledImage = outcome.value.right
    const layerCount = pulledImage.layers.length
    process.stderr.write(
      `${pulledImage.name}: ${layerCount} ${layerCount === 1 ? "layer" : "layers"} unpacked into ${pulledImage.snapshotter} in namespace ${namespace}\n`
    )
    process.stdout.write(`${pulledImage.name} ${pulledImage.target.digest}\n`)
    return 0
  })
