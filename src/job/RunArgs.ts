/**
 * The arguments of `containerd-driver run`, checked beyond what the command-line parser (layers/Cli.ts) can:
 * `-var NAME=VALUE` and `--host-volume NAME=PATH` pairs.
 */
import { Either } from "effect"

export interface RunArgs {
  readonly jobFile: string
  readonly configFile: string | undefined
  /** `-var` values in order (later ones win). */
  readonly vars: ReadonlyArray<readonly [string, string]>
  readonly varFiles: ReadonlyArray<string>
  /** The client's host volumes: name to host path. */
  readonly hostVolumes: Readonly<Record<string, string>>
  readonly verbose: boolean
}

/** The options as the command line gives them. */
export interface RunOptions {
  readonly jobFile: string
  readonly configFile: string | undefined
  readonly vars: ReadonlyArray<string>
  readonly varFiles: ReadonlyArray<string>
  readonly hostVolumes: ReadonlyArray<string>
  readonly verbose: boolean
}

const splitPair = (flag: string, value: string): readonly [string, string] => {
  const eq = value.indexOf("=")
  if (eq <= 0) throw `${flag} needs NAME=VALUE, got ${JSON.stringify(value)}`
  return [value.slice(0, eq), value.slice(eq + 1)]
}

export const runArgs = (options: RunOptions): Either.Either<RunArgs, string> => {
  try {
    return Either.right({
      jobFile: options.jobFile,
      configFile: options.configFile,
      vars: options.vars.map((value) => splitPair("-var", value)),
      varFiles: options.varFiles,
      hostVolumes: Object.fromEntries(options.hostVolumes.map((value) => splitPair("--host-volume", value))),
      verbose: options.verbose
    })
  } catch (message) {
    return Either.left(String(message))
  }
}
