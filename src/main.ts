/**
 * Entry point of the `containerd-driver` executable. Without arguments it is the Nomad plugin
 * (launched by the agent with go-plugin's environment); the subcommands are for operators.
 */
import { Cause, Effect, Exit, FiberId } from "effect"
import * as Doctor from "../layers/Doctor.js"
import * as PullCommand from "../layers/PullCommand.js"
import * as HcLog from "../layers/HcLog.js"
import { pluginName, pluginVersion } from "./plugin/Version.js"
import * as RunCommand from "../layers/RunCommand.js"
import * as Serve from "../layers/Serve.js"
import * as SpecCommand from "../layers/SpecCommand.js"
import { checkLaunch } from "./plugin/GoPlugin.js"

const usage = `Usage: ${pluginName} [command]

Without a command, runs as a Nomad task-driver plugin (Nomad launches it from its plugin_dir).

Commands:
  doctor [--config FILE] [--image IMAGE]
                           show what the driver sees on this node: containerd socket, versions,
                           snapshotters, cgroup version, and why the driver would be unhealthy;
                           with --image, the registry hosts a pull of IMAGE would try.
                           FILE is the plugin config block as JSON, e.g. {"containerd_address": "..."}
  pull [--config FILE] [--force] [--user USER] [--timeout DURATION] IMAGE
                           pull and unpack IMAGE into the driver's namespace and snapshotter
  spec [--config FILE] [--task NAME] [--env K=V] [--user U] JOBFILE
                           print the OCI runtime spec the driver would run for a task of JOBFILE
                           (HCL or JSON job, or a config block), pulling its image if needed
  run [-var NAME=VALUE] [-var-file FILE] [--config FILE] [--host-volume NAME=PATH] JOBFILE
                           run every task of a Nomad job on this machine through the plugin, as a
                           Nomad client would, until it ends (batch) or Ctrl-C (service)
  version                  print the version
  help                     print this help
`

const run = <E>(effect: Effect.Effect<number, E>, options: { readonly plugin: boolean } = { plugin: false }) => {
  const logLevel = HcLog.parseLogLevel(process.env["CONTAINERD_DRIVER_LOG_LEVEL"])
  const fiber = Effect.runFork(effect.pipe(Effect.provide(HcLog.layer(logLevel))))
  const stop = () => fiber.unsafeInterruptAsFork(FiberId.none)
  // Nomad stops plugins over gRPC; a Ctrl-C in the agent's terminal must not kill them (go-plugin does
  // the same). The operator commands stop on Ctrl-C like any command.
  process.on("SIGINT", options.plugin ? () => {} : stop)
  process.on("SIGTERM", stop)
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
      process.exit(1)
    }
    process.exit(Exit.isSuccess(exit) ? exit.value : options.plugin ? 0 : 130)
  })
}

const main = (argv: ReadonlyArray<string>): void => {
  HcLog.tolerateBrokenPipes()
  const [command, ...rest] = argv
  switch (command) {
    case undefined:
    case "serve": {
      const launch = checkLaunch(process.env)
      if (launch._tag !== "Ok") {
        process.stderr.write(`${launch.message}\n`)
        process.exit(1)
      }
      return run(Serve.program({ env: process.env }).pipe(Effect.as(0)), { plugin: true })
    }
    case "doctor":
      return run(Doctor.program(rest))
    case "pull":
      return run(PullCommand.program(rest))
    case "spec":
      return run(SpecCommand.program(rest))
    case "run":
      return RunCommand.main(rest)
    case "version":
    case "--version":
      process.stdout.write(`${pluginName} v${pluginVersion}\n`)
      return
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage)
      return
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${usage}`)
      process.exit(2)
  }
}

main(process.argv.slice(2))

