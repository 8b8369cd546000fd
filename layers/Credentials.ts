/**
 * Credentials service: finds the credential to present to a registry from the driver's sources, in precedence
 * order — task `auth`, driver `auth` (both for the image's registry only, not for its mirrors), the driver-level
 * credential `helper`, then Docker `config.json` (`credHelpers`, `credsStore`, `auths`). Runs
 * `docker-credential-<helper> get` when a helper is involved. `describeSources` says where a credential would come
 * from without revealing or fetching it (for `doctor`).
 */
import { spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { Context, Duration, Effect, Layer, Option } from "effect"
import {
  type Credential,
  CredentialsError,
  dockerConfigSources,
  entryCredential,
  helperExecutable,
  isHelperNotFound,
  parseDockerConfig,
  parseHelperOutput,
  serverAddress,
  staticCredential,
  type UserPassword
} from "../src/image/Credentials.js"

export { type Credential, CredentialsError, type UserPassword } from "../src/image/Credentials.js"

export interface CredentialsConfig {
  /** Driver-level `auth { username password }`: offered to every registry (as the original driver did). */
  readonly auth?: UserPassword | undefined
  /** Driver-level credential helper used for every registry: runs `docker-credential-<helper>`. */
  readonly helper?: string | undefined
  /** Path of a Docker `config.json`; a missing file means "no credentials from it". */
  readonly dockerConfigPath?: string | undefined
  /** Bound on one helper run (default 30 s). */
  readonly helperTimeout?: Duration.DurationInput | undefined
}

export interface LookupOptions {
  /**
   * Whether the `auth` blocks (task and driver) may answer (default true): they are meant for the image's registry,
   * so a mirror (a `[host]` of hosts.toml) is asked only about credentials stored for its own name.
   */
  readonly staticAuth?: boolean | undefined
}

export class Credentials extends Context.Tag("containerd-driver/Credentials")<Credentials, {
  /**
   * The credential for `domain` (a reference domain such as `docker.io`, or a host such as
   * `registry.example.com:5000`), or none for anonymous access. `taskAuth` is the task's own `auth` block, which
   * wins over everything else.
   */
  readonly lookup: (
    domain: string,
    taskAuth?: UserPassword | undefined,
    options?: LookupOptions
  ) => Effect.Effect<Option.Option<Credential>, CredentialsError>
}>() {}

const OUTPUT_LIMIT = 64 * 1024

interface HelperRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const spawnHelper = (executable: string, helper: string, input: string) =>
  Effect.async<HelperRun, CredentialsError>((resume) => {
    const child = spawn(executable, ["get"], { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk
    })
    child.on("error", (error: NodeJS.ErrnoException) => {
      resume(Effect.fail(
        new CredentialsError({
          reason: "HelperFailed",
          message: error.code === "ENOENT" ?
            `credential helper ${executable} was not found on PATH` :
            `credential helper ${executable} could not be started: ${error.code ?? error.message}`,
          cause: error
        })
      ))
    })
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    // A helper that exits without reading stdin makes this write fail with EPIPE; its exit status tells the story.
    child.stdin.on("error", () => {})
    child.stdin.end(`${input}\n`)
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  }).pipe(Effect.withSpan("Credentials.helper", { attributes: { helper } }))

const firstLine = (text: string): string => (text.trim().split("\n")[0] ?? "").slice(0, 200)

/**
 * What a failed helper said, for the error message. docker-credential-helpers print their errors on stdout, so
 * stdout is read too; but a helper that printed its answer and then failed would put a secret there, so a line
 * that looks like a JSON answer is not repeated.
 */
const failureDetail = (stderr: string, stdout: string): string => {
  const line = firstLine(stderr) || firstLine(stdout)
  return line.startsWith("{") || /"secret"/i.test(line) ? "(its output looks like a credential answer and is not shown)" : line
}

/** Runs `docker-credential-<helper> get` for a server URL; "credentials not found" yields none. */
export const runHelper = (
  helper: string,
  server: string,
  timeout: Duration.DurationInput = Duration.seconds(30)
): Effect.Effect<Option.Option<Credential>, CredentialsError> =>
  Effect.gen(function*() {
    const executable = yield* helperExecutable(helper)
    const run = yield* spawnHelper(executable, helper, server).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new CredentialsError({
            reason: "HelperFailed",
            message: `credential helper ${executable} did not answer within ${Duration.format(timeout)} for ${server}`
          })
      })
    )
    if (run.code !== 0) {
      if (isHelperNotFound(run.stdout) || isHelperNotFound(run.stderr)) return Option.none()
      const detail = failureDetail(run.stderr, run.stdout)
      return yield* new CredentialsError({
        reason: "HelperFailed",
        message: `credential helper ${executable} failed for ${server} (exit status ${run.code ?? "killed"})` +
          (detail !== "" ? `: ${detail}` : "")
      })
    }
    return yield* parseHelperOutput(run.stdout, helper)
  })

const readDockerConfig = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (error) => error as NodeJS.ErrnoException
  }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((error) =>
      error.code === "ENOENT" ?
        Effect.succeed(Option.none<string>()) :
        Effect.fail(
          new CredentialsError({
            reason: "ConfigUnreadable",
            message: `cannot read Docker config ${path}: ${error.code ?? error.message}`,
            cause: error
          })
        )
    ),
    Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(Option.none()),
      onSome: (text) => Effect.map(parseDockerConfig(text, path), Option.some)
    }))
  )

export const make = (config: CredentialsConfig): Effect.Effect<Credentials["Type"]> =>
  Effect.sync(() => {
    const helperTimeout = config.helperTimeout ?? Duration.seconds(30)

    const fromDockerConfig = (path: string, domain: string) =>
      Effect.gen(function*() {
        const parsed = yield* readDockerConfig(path)
        if (Option.isNone(parsed)) return Option.none<Credential>()
        for (const source of dockerConfigSources(parsed.value, domain)) {
          const found = source._tag === "Helper" ?
            yield* runHelper(source.helper, serverAddress(domain), helperTimeout) :
            yield* entryCredential(source.entry, source.key, path)
          if (Option.isSome(found)) return found
        }
        return Option.none<Credential>()
      })

    const lookup = (domain: string, taskAuth?: UserPassword | undefined, options?: LookupOptions) =>
      Effect.gen(function*() {
        if (options?.staticAuth !== false) {
          const fixed = staticCredential(taskAuth, config.auth)
          if (Option.isSome(fixed)) return fixed
        }
        if (config.helper !== undefined && config.helper !== "") {
          const found = yield* runHelper(config.helper, serverAddress(domain), helperTimeout)
          if (Option.isSome(found)) return found
        }
        if (config.dockerConfigPath !== undefined && config.dockerConfigPath !== "") {
          return yield* fromDockerConfig(config.dockerConfigPath, domain)
        }
        return Option.none<Credential>()
      }).pipe(Effect.withSpan("Credentials.lookup", { attributes: { domain } }))

    return Credentials.of({ lookup })
  })

export const layer = (config: CredentialsConfig): Layer.Layer<Credentials> => Layer.effect(Credentials, make(config))

/** No credentials at all: every registry is accessed anonymously. */
export const layerAnonymous: Layer.Layer<Credentials> = layer({})

/**
 * Where the credential for `domain` would come from, in the order they are consulted, without running a helper
 * and without any secret: e.g. "the task's auth block if it has one, else docker-credential-ecr-login".
 */
export const describeSources = (
  config: CredentialsConfig,
  domain: string,
  options?: LookupOptions
): Effect.Effect<string> =>
  Effect.gen(function*() {
    const sources: Array<string> = []
    if (options?.staticAuth !== false) {
      sources.push("the task's auth block if it has one")
      if (config.auth !== undefined) {
        sources.push("the driver's auth block")
        return sources.join(", else ")
      }
    }
    if (config.helper !== undefined && config.helper !== "") {
      sources.push(`credential helper docker-credential-${config.helper} (asked for ${serverAddress(domain)})`)
    }
    const path = config.dockerConfigPath
    if (path !== undefined && path !== "") {
      const parsed = yield* Effect.either(readDockerConfig(path))
      if (parsed._tag === "Left") {
        sources.push(`Docker config ${path}, which cannot be used: ${parsed.left.message}`)
      } else if (Option.isNone(parsed.right)) {
        sources.push(`Docker config ${path} (does not exist)`)
      } else {
        const found = dockerConfigSources(parsed.right.value, domain)
        if (found.length === 0) sources.push(`Docker config ${path} (nothing for ${domain})`)
        for (const source of found) {
          sources.push(
            source._tag === "Helper" ?
              `docker-credential-${source.helper} (from ${path})` :
              `the auths entry ${JSON.stringify(source.key)} of ${path}`
          )
        }
      }
    }
    return sources.length === 0 ? "none: anonymous" : `${sources.join(", else ")}, else anonymous`
  })
