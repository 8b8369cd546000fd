/**
 * The operator commands on one parser (@effect/cli): `doctor`, `pull`, `spec`, `run` and `version`, each with
 * `--help`, typed options, and shell completions (`--completions bash|zsh|fish|sh`). Each command's own module
 * checks what the parser cannot (a Go duration, NAME=VALUE pairs, a password in the environment) and returns the
 * process's exit code. The plugin itself never loads this module: its start-up (the handshake) must not pay for it.
 */
import { Args, Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, FiberId, Option } from "effect"
import * as HcLog from "./HcLog.js"
import { pluginName, pluginVersion } from "../src/plugin/Version.js"
import * as Doctor from "./Doctor.js"
import * as PullCommand from "./PullCommand.js"
import * as RunCommand from "./RunCommand.js"
import * as SpecCommand from "./SpecCommand.js"

const configFile = Options.text("config").pipe(
  Options.withDescription("the plugin's config block as JSON (the agent's plugin \"containerd-driver\" { config { ... } })"),
  Options.optional,
  Options.map(Option.getOrUndefined)
)

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional, Options.map(Option.getOrUndefined))

/** Sets the process's exit code from a command's result. */
const exitWith = (code: Effect.Effect<number>) => Effect.flatMap(code, (c) => Effect.sync(() => void (process.exitCode = c)))

const doctorOptions = {
  configFile,
  image: optionalText("image", "also show which registry hosts a pull of this image would try, in order")
}

const doctor = Command.make(
  "doctor",
  doctorOptions,
  (options) => exitWith(Doctor.program(options))
).pipe(Command.withDescription(
  "What the driver sees on this node — containerd socket, versions, snapshotters, cgroup version, runtime, policy — " +
    "and why it would be unhealthy. Exits 0 only when the driver would be healthy."
))

const pullOptions = {
  configFile,
  force: Options.boolean("force").pipe(
    Options.withDescription("download every layer again, even those present, checking their digests (force_pull)")
  ),
  user: optionalText(
    "user",
    `registry user, like a task's auth block; the password is read from $${PullCommand.passwordVariable} ` +
      "(never from the command line, where ps shows it)"
  ),
  timeout: Options.text("timeout").pipe(
    Options.withDescription("give up after this long (a Go duration, like image_pull_timeout)"),
    Options.withDefault("5m")
  )
}

const pull = Command.make(
  "pull",
  { ...pullOptions, image: Args.text({ name: "IMAGE" }) },
  (options) => exitWith(PullCommand.program(options, process.env))
).pipe(Command.withDescription("Pull and unpack an image into the driver's namespace and snapshotter, as a task start would."))

const specOptions = {
  configFile,
  task: optionalText("task", "the task, when the job has several containerd-driver tasks"),
  env: Options.text("env").pipe(Options.withDescription("KEY=VALUE added to the task's environment"), Options.repeated),
  user: optionalText("user", "the task's user (overrides the job's)"),
  cpu: optionalText("cpu", "the task's cpu in MHz (overrides the job's)"),
  memory: optionalText("memory", "the task's memory in MiB (overrides the job's)"),
  memoryMax: optionalText("memory-max", "the task's memory_max in MiB (overrides the job's)"),
  vars: Options.text("var").pipe(
    Options.withDescription("NAME=VALUE for a job variable, as for run (NOMAD_VAR_NAME in the environment works too)"),
    Options.repeated
  ),
  varFiles: Options.text("var-file").pipe(Options.withDescription("a file of job variables, HCL or JSON"), Options.repeated)
}

const spec = Command.make(
  "spec",
  {
    ...specOptions,
    file: Args.text({ name: "JOBFILE" }).pipe(
      Args.withDescription("an HCL job, Nomad's JSON job form, or just a task's config block; - reads standard input")
    )
  },
  (options) => exitWith(SpecCommand.program(options))
).pipe(Command.withDescription(
  "Print the OCI runtime spec the driver would run for a task of JOBFILE, pulling its image if needed — or the " +
    "error the task's start would fail with."
))

const runOptions = {
  vars: Options.text("var").pipe(
    Options.withDescription("NAME=VALUE for a job variable (NOMAD_VAR_NAME in the environment works too)"),
    Options.repeated
  ),
  varFiles: Options.text("var-file").pipe(Options.withDescription("a file of job variables, HCL or JSON"), Options.repeated),
  configFile,
  hostVolumes: Options.text("host-volume").pipe(
    Options.withDescription("NAME=PATH: the host volume a group's volume \"source\" names"),
    Options.repeated
  ),
  verbose: Options.boolean("verbose").pipe(Options.withDescription("show the plugin's debug log too"))
}

const run = Command.make(
  "run",
  { ...runOptions, jobFile: Args.text({ name: "JOBFILE" }).pipe(Args.withDescription("an HCL job or Nomad's JSON job form")) },
  (options) => exitWith(RunCommand.command(options))
).pipe(Command.withDescription(
  "Run every task of a Nomad job on this machine through the plugin, as a Nomad client would: until it ends " +
    "(batch) or Ctrl-C (service), which stops each task with its kill_signal and kill_timeout."
))

const version = Command.make("version", {}, () => Effect.sync(() => process.stdout.write(`${pluginName} v${pluginVersion}\n`)))
  .pipe(Command.withDescription("Print the version."))

const root = Command.make(pluginName).pipe(
  Command.withDescription(
    "A Nomad task driver that runs tasks as containers on containerd. Without a command it is the plugin, as " +
      "Nomad launches it from its plugin_dir; the commands are for operators."
  ),
  Command.withSubcommands([doctor, pull, spec, run, version])
)

const cli = Command.run(root, { name: pluginName, version: `v${pluginVersion}` })

const optionNames = (options: Record<string, Options.Options<unknown>>): ReadonlyArray<string> =>
  Object.values(options).flatMap((option) => Option.toArray(Options.getIdentifier(option)))

const commandOptions: Record<string, ReadonlyArray<string>> = {
  doctor: optionNames(doctorOptions),
  pull: optionNames(pullOptions),
  spec: optionNames(specOptions),
  run: optionNames(runOptions)
}

// The parser's own flags, accepted by every command.
const builtInOptions = ["--help", "--version", "--wizard", "--completions", "--log-level"]

/**
 * The first `--option` a command does not have, with the message that says so. @effect/cli would report the
 * argument after it instead ("unknown argument 'IMAGE'" for `pull --frobnicate IMAGE`), which sends the user looking
 * in the wrong place.
 */
export const unknownOption = (argv: ReadonlyArray<string>): string | undefined => {
  const [command, ...rest] = argv
  const known = command === undefined ? undefined : commandOptions[command]
  if (known === undefined) return undefined
  const end = rest.indexOf("--")
  const unknown = (end < 0 ? rest : rest.slice(0, end))
    .filter((arg) => arg.startsWith("--"))
    .map((arg) => arg.split("=")[0]!)
    .find((name) => !known.includes(name) && !builtInOptions.includes(name))
  return unknown === undefined
    ? undefined
    : `${command} has no option ${unknown}; its options are ${known.join(", ")} (see ${pluginName} ${command} --help)`
}

/**
 * Nomad's commands spell job variables with one dash (`-var NAME=VALUE`, `-var-file FILE`), as Go's flag package
 * does; they are read the same way here. `--var=NAME=VALUE` is split in two, as the parser reads only one `=`.
 */
export const normalizeArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> =>
  argv.flatMap((arg) => {
    const variable = /^--?(var|var-file)(?:=(.*))?$/s.exec(arg)
    if (variable === null) return [arg]
    return variable[2] === undefined ? [`--${variable[1]}`] : [`--${variable[1]}`, variable[2]]
  })

/** `help CMD` and a `--help` anywhere show the help, even where the parser would take `--help` for an argument. */
const helpFirst = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (argv[0] === "help") return [...argv.slice(1, 2), "--help"]
  const end = argv.indexOf("--")
  const options = end < 0 ? argv : argv.slice(0, end)
  return options.includes("--help") || options.includes("-h") ? [...argv.slice(0, 1).filter((a) => !a.startsWith("-")), "--help"] : argv
}

// @effect/cli colours its help and errors with ANSI codes; a pipe or a file gets plain text (and NO_COLOR is honoured).
const ansiCodes = /\x1b\[[0-9;]*m/g
const plainUnless = (tty: boolean | undefined) => (args: ReadonlyArray<unknown>) =>
  tty === true && process.env["NO_COLOR"] === undefined
    ? args
    : args.map((arg) => (typeof arg === "string" ? arg.replace(ansiCodes, "") : arg))

const withPlainTextWhenPiped = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Console.consoleWith((console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(...plainUnless(process.stdout.isTTY)(args)),
      error: (...args) => console.error(...plainUnless(process.stderr.isTTY)(args))
    })
  )

const parse = (argv: ReadonlyArray<string>) =>
  cli(["node", pluginName, ...helpFirst(normalizeArgv(argv))]).pipe(
    withPlainTextWhenPiped,
    Effect.provide(NodeContext.layer)
  )

/** The parser's own failures: it has already explained them on stderr. */
const isCommandLineError = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  ["CommandMismatch", "CorrectedFlag", "HelpRequested", "InvalidArgument", "InvalidValue", "MissingValue",
    "MissingFlag", "MultipleValuesDetected", "MissingSubcommand", "NoBuiltInMatch", "UnclusteredFlag"].includes(error._tag)

/**
 * Runs the command on `argv` (the arguments after the program's name) and exits: with the command's code, 2 for a
 * bad command line, 130 when interrupted. Ctrl-C and SIGTERM interrupt a command, except `run`, which stops its
 * tasks itself first (layers/RunCommand.ts).
 */
export const runCommands = (argv: ReadonlyArray<string>): void => {
  const unknown = unknownOption(normalizeArgv(argv))
  if (unknown !== undefined) {
    process.stderr.write(`${unknown}\n`)
    process.exit(2)
  }
  const logLevel = HcLog.parseLogLevel(process.env["CONTAINERD_DRIVER_LOG_LEVEL"])
  const fiber = Effect.runFork(parse(argv).pipe(Effect.provide(HcLog.layer(logLevel))))
  if (argv[0] !== "run") {
    const stop = () => fiber.unsafeInterruptAsFork(FiberId.none)
    process.on("SIGINT", stop)
    process.on("SIGTERM", stop)
  }
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit)) process.exit()
    if (Cause.isInterruptedOnly(exit.cause)) process.exit(130)
    const explained = Option.exists(Cause.failureOption(exit.cause), isCommandLineError)
    if (!explained) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    process.exit(explained ? 2 : 1)
  })
}
