/**
 * The arguments of `containerd-driver run`, as a function from argv to options (so the command line can move to
 * any parser). Nomad's own spellings are accepted: `-var NAME=VALUE` and `-var-file FILE`, with one or two dashes
 * and with `=` or a space before the value.
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
  readonly help: boolean
}

export const usage = `Usage: containerd-driver run [options] JOBFILE

Runs every task of a Nomad job (HCL, or Nomad's JSON job form) on this machine through the plugin, as a Nomad
client would: task and allocation directories, logs, templates, bridge networking, restarts. Task output is shown
with the task's name in front. A batch job ends with its result; a service job runs until Ctrl-C, which stops
every task with its kill_signal and kill_timeout (a second Ctrl-C destroys them at once).
  -var NAME=VALUE        set a job variable (repeatable; NOMAD_VAR_NAME in the environment works too)
  -var-file FILE         read job variables from an HCL or JSON file (repeatable)
  --config FILE          the plugin config block as JSON (namespace, snapshotter, auth, ...)
  --host-volume NAME=PATH  the host volume a group's volume "source" names, as a client's host_volume block
  --verbose              show the plugin's debug log too
`

const splitPair = (flag: string, value: string): readonly [string, string] => {
  const eq = value.indexOf("=")
  if (eq <= 0) throw `${flag} needs NAME=VALUE, got ${JSON.stringify(value)}`
  return [value.slice(0, eq), value.slice(eq + 1)]
}

export const parseRunArgs = (argv: ReadonlyArray<string>): Either.Either<RunArgs, string> => {
  let jobFile: string | undefined
  let configFile: string | undefined
  const vars: Array<readonly [string, string]> = []
  const varFiles: Array<string> = []
  const hostVolumes: Record<string, string> = {}
  let verbose = false
  let help = false
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!
      const eq = arg.startsWith("-") ? arg.indexOf("=") : -1
      const flag = (eq === -1 ? arg : arg.slice(0, eq)).replace(/^--?/, "-")
      const value = (): string => {
        if (eq !== -1) return arg.slice(eq + 1)
        const v = argv[++i]
        if (v === undefined) throw `${arg} needs a value`
        return v
      }
      switch (arg.startsWith("-") && arg !== "-" ? flag : "") {
        case "-var":
          vars.push(splitPair(arg, value()))
          break
        case "-var-file":
          varFiles.push(value())
          break
        case "-config":
          configFile = value()
          break
        case "-host-volume": {
          const [name, dir] = splitPair(arg, value())
          hostVolumes[name] = dir
          break
        }
        case "-verbose":
          verbose = true
          break
        case "-help":
        case "-h":
          help = true
          break
        case "":
          if (jobFile !== undefined) throw `only one job file, got ${jobFile} and ${arg}`
          jobFile = arg
          break
        default:
          throw `unknown option ${arg}`
      }
    }
  } catch (message) {
    return Either.left(String(message))
  }
  if (help) return Either.right({ jobFile: jobFile ?? "", configFile, vars, varFiles, hostVolumes, verbose, help })
  if (jobFile === undefined) return Either.left("which job file? e.g. run example/hello.nomad")
  return Either.right({ jobFile, configFile, vars, varFiles, hostVolumes, verbose, help })
}
