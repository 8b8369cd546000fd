/**
 * What the process runs: args from the image ENTRYPOINT/CMD and the task's command/args/entrypoint, the
 * environment (image env, then Nomad's), and the working directory.
 */
import * as path from "node:path"
import { Either } from "effect"
import { defaultPathEnv } from "./DefaultSpec.js"
import type { ImageConfig, TaskConfig } from "./SpecInput.js"
import { type SpecError, specError } from "./SpecError.js"

/**
 * The original driver's rules (Roblox/nomad-driver-containerd containerd/containerd.go, createContainer):
 * - `command` and `entrypoint` together are an error;
 * - `entrypoint` replaces the image ENTRYPOINT *and* CMD: args = entrypoint ++ args; `entrypoint = [""]` means
 *   "no entrypoint": args alone. An empty list `entrypoint = []` is treated as unset (the Go driver crashed on it;
 *   the Docker driver ignores it), and `[""]` followed by more elements is refused as ambiguous;
 * - otherwise args = image ENTRYPOINT ++ (command + args if any, else image CMD) — Docker-driver semantics.
 * An empty result is an error rather than a spec runc cannot start.
 */
export const processArgs = (
  task: Pick<TaskConfig, "command" | "args" | "entrypoint">,
  image: Pick<ImageConfig, "entrypoint" | "cmd">
): Either.Either<ReadonlyArray<string>, SpecError> => {
  const command = task.command !== undefined && task.command !== "" ? task.command : undefined
  const entrypoint = task.entrypoint !== undefined && task.entrypoint.length > 0 ? task.entrypoint : undefined
  if (command !== undefined && entrypoint !== undefined) {
    return Either.left(
      specError("CommandAndEntrypoint", "Both command and entrypoint are set. Only one of them needs to be set.")
    )
  }
  let args: ReadonlyArray<string>
  if (entrypoint !== undefined) {
    if (entrypoint[0] === "" && entrypoint.length > 1) {
      return Either.left(
        specError(
          "InvalidEntrypoint",
          `entrypoint ${JSON.stringify(entrypoint)} starts with "" (which means "no entrypoint") but has more ` +
            `elements; use entrypoint = [""] with args, or drop the empty first element`
        )
      )
    }
    args = entrypoint[0] === "" ? task.args : [...entrypoint, ...task.args]
  } else {
    const override = command !== undefined ? [command, ...task.args] : task.args
    args = [...(image.entrypoint ?? []), ...(override.length > 0 ? override : image.cmd ?? [])]
  }
  if (args.length === 0) {
    return Either.left(
      specError(
        "NoCommand",
        "nothing to run: the image has no ENTRYPOINT or CMD and the task sets no command, args or entrypoint"
      )
    )
  }
  return Either.right(args)
}

const keyOf = (entry: string): string => {
  const eq = entry.indexOf("=")
  return eq < 0 ? entry : entry.slice(0, eq)
}

/**
 * Image env (or containerd's default PATH when the image has no env at all), then every Nomad variable except
 * PATH (so the image's PATH survives, as in the original), replacing a same-named image variable in place or
 * appended in key order. A key appears once: a repeated image key keeps its first place and its last value.
 */
export const processEnv = (
  imageEnv: ReadonlyArray<string>,
  nomadEnv: Readonly<Record<string, string>>
): ReadonlyArray<string> => {
  const entries = new Map<string, string>()
  for (const entry of imageEnv.length > 0 ? imageEnv : [defaultPathEnv]) entries.set(keyOf(entry), entry)
  for (const key of Object.keys(nomadEnv).sort()) {
    if (key === "PATH" || key === "" || key.includes("=")) continue
    entries.set(key, `${key}=${nomadEnv[key]}`)
  }
  return [...entries.values()]
}

/** `cwd`, else the image WorkingDir, else `/`; the task's value must be absolute (runc requires it). */
export const processCwd = (
  cwd: string | undefined,
  workingDir: string | undefined
): Either.Either<string, SpecError> => {
  if (cwd !== undefined && cwd !== "") {
    return path.posix.isAbsolute(cwd)
      ? Either.right(cwd)
      : Either.left(specError("InvalidCwd", `cwd ${JSON.stringify(cwd)} must be an absolute path inside the container`))
  }
  return Either.right(workingDir !== undefined && workingDir !== "" ? workingDir : "/")
}
