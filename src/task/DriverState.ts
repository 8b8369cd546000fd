/**
 * `driver_state`: the opaque bytes Nomad keeps in a task's handle and gives back to RecoverTask, possibly to a
 * new plugin process, without the task's config (Nomad does not persist `msgpack_driver_config`). It holds
 * everything needed to find the task again and finish its life: where the container is,
 * what to remove with it, and how to stop it. Versioned JSON, so a later driver can still read it.
 *
 * Handles written by the original Go driver (msgpack with `ContainerName`, `StartedAt`, `StdoutPath`,
 * `StderrPath`) are read too, so tasks survive an upgrade from it.
 */
import { decode as decodeMsgpack } from "@msgpack/msgpack"
import { Data, Either, Schema } from "effect"

export const DriverState = Schema.Struct({
  version: Schema.Literal(1),
  namespace: Schema.String,
  containerId: Schema.String,
  snapshotter: Schema.String,
  snapshotKey: Schema.String,
  /** The image name and the manifest digest the task was started from. */
  image: Schema.String,
  imageDigest: Schema.String,
  /** Milliseconds since the epoch. */
  startedAt: Schema.Number,
  /** The signal StopTask sends when Nomad names none: the image's STOPSIGNAL, else SIGTERM. */
  stopSignal: Schema.String,
  /** Host directory of the generated files (removed by DestroyTask); empty if none. */
  generatedDir: Schema.String
})
export type DriverState = typeof DriverState.Type

/** What the original driver stored: enough to find its container in the namespace it used. */
export interface LegacyDriverState {
  readonly containerName: string
  readonly startedAt: number | undefined
  /** Nomad's log FIFOs, which the original driver copied the task's output into itself. */
  readonly stdoutPath: string
  readonly stderrPath: string
}

export class DriverStateError extends Data.TaggedError("DriverStateError")<{
  readonly message: string
}> {}

const JsonState = Schema.parseJson(DriverState)

export const encodeDriverState = (state: DriverState): Uint8Array =>
  new TextEncoder().encode(Schema.encodeSync(JsonState)(state))

const timeOf = (value: unknown): number | undefined => {
  if (value instanceof Date) return value.getTime()
  if (typeof value === "string") {
    const ms = Date.parse(value)
    return Number.isNaN(ms) ? undefined : ms
  }
  return undefined
}

const legacy = (bytes: Uint8Array): LegacyDriverState | undefined => {
  const decoded = Either.try(() => decodeMsgpack(bytes))
  if (Either.isLeft(decoded)) return undefined
  const value = decoded.right
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<string, unknown>
  const name = record["ContainerName"]
  const text = (key: string) => (typeof record[key] === "string" ? record[key] as string : "")
  return typeof name === "string" && name !== ""
    ? { containerName: name, startedAt: timeOf(record["StartedAt"]), stdoutPath: text("StdoutPath"), stderrPath: text("StderrPath") }
    : undefined
}

/** This driver's state, or the original driver's, from a handle's `driver_state`. */
export const decodeDriverState = (
  bytes: Uint8Array
): Either.Either<{ readonly _tag: "Current"; readonly state: DriverState } | { readonly _tag: "Legacy"; readonly state: LegacyDriverState }, DriverStateError> => {
  const text = Either.try(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  if (Either.isRight(text) && text.right.trimStart().startsWith("{")) {
    return Schema.decodeUnknownEither(JsonState)(text.right).pipe(
      Either.map((state) => ({ _tag: "Current" as const, state })),
      Either.mapLeft(() =>
        new DriverStateError({ message: "the task handle's driver state is not one this driver wrote (unknown version or damaged)" })
      )
    )
  }
  const old = legacy(bytes)
  return old === undefined
    ? Either.left(new DriverStateError({ message: "the task handle carries no driver state this driver can read" }))
    : Either.right({ _tag: "Legacy", state: old })
}
