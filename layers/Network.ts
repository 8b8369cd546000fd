/**
 * Network: the host side of a task's networking. The namespaces themselves are in the
 * runtime spec (src/oci/Spec.ts: host network, Nomad's group namespace, or a private one as the original);
 * this service checks that a group namespace Nomad named exists before a container is made to join it, and
 * writes and removes the files the spec mounts into the task (/etc/hosts, /etc/resolv.conf), which live in a
 * driver-owned directory outside the task's writable dirs and are mounted read-only.
 */
import { Context, Data, Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { GeneratedFile } from "../src/oci/Spec.js"
import type { NomadTask } from "../src/oci/SpecInput.js"

export class NetworkError extends Data.TaggedError("NetworkError")<{
  readonly reason: "MissingNamespace" | "Files"
  readonly message: string
  readonly cause?: unknown
}> {}

export class Network extends Context.Tag("containerd-driver/Network")<Network, {
  /** Fails when the task is to join a group network namespace that does not exist. */
  readonly checkNamespace: (nomad: Pick<NomadTask, "network_isolation_spec">) => Effect.Effect<void, NetworkError>
  /** Writes `files` into `dir` (created if needed), replacing what a previous attempt left there. */
  readonly writeFiles: (dir: string, files: ReadonlyArray<GeneratedFile>) => Effect.Effect<void, NetworkError>
  /** Removes `dir` and everything in it; nothing if it does not exist. */
  readonly removeFiles: (dir: string) => Effect.Effect<void>
}>() {}

const errorText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

export const make = Network.of({
  checkNamespace: (nomad) => {
    const spec = nomad.network_isolation_spec
    if (spec === undefined || spec.mode === "host" || spec.path === "") return Effect.void
    return Effect.tryPromise({
      try: () => fs.stat(spec.path),
      catch: (cause) =>
        new NetworkError({
          reason: "MissingNamespace",
          message: `the group network namespace ${spec.path} does not exist (${errorText(cause)}); Nomad creates it for ` +
            "the allocation before its tasks start",
          cause
        })
    }).pipe(Effect.asVoid)
  },
  writeFiles: (dir, files) =>
    Effect.tryPromise({
      try: async () => {
        if (files.length === 0) return
        await fs.mkdir(dir, { recursive: true, mode: 0o755 })
        for (const file of files) {
          // Written beside, then renamed: a task being restarted never sees a half-written file.
          const target = path.join(dir, file.name)
          const temporary = `${target}.tmp`
          await fs.writeFile(temporary, file.content, { mode: 0o644 })
          await fs.rename(temporary, target)
        }
      },
      catch: (cause) =>
        new NetworkError({ reason: "Files", message: `cannot write the task's network files in ${dir}: ${errorText(cause)}`, cause })
    }),
  removeFiles: (dir) =>
    dir === ""
      ? Effect.void
      : Effect.tryPromise(() => fs.rm(dir, { recursive: true, force: true })).pipe(
        Effect.catchAll((error) => Effect.logWarning(`cannot remove ${dir}: ${errorText(error.error)}`))
      )
})

export const layer: Layer.Layer<Network> = Layer.succeed(Network, make)
