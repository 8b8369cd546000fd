/**
 * Entry point of the `containerd-driver` executable. Without arguments it is the Nomad plugin (launched by the
 * agent with go-plugin's environment); with a command, the operator commands of layers/Cli.ts, which are loaded
 * only then: the plugin's start-up (the handshake) does not pay for them (scripts/bundle.mjs).
 */
import { Cause, Effect, Exit } from "effect"
import * as HcLog from "../layers/HcLog.js"
import * as Serve from "../layers/Serve.js"
import { checkLaunch } from "./plugin/GoPlugin.js"

const servePlugin = (): void => {
  const launch = checkLaunch(process.env)
  if (launch._tag !== "Ok") {
    process.stderr.write(`${launch.message}\n`)
    process.exit(1)
  }
  const logLevel = HcLog.parseLogLevel(process.env["CONTAINERD_DRIVER_LOG_LEVEL"])
  const fiber = Effect.runFork(Serve.program({ env: process.env }).pipe(Effect.provide(HcLog.layer(logLevel))))
  // Nomad stops a plugin by killing it, or with SIGTERM when the agent shuts down; a Ctrl-C in the agent's terminal
  // must not kill it (go-plugin's own plugins ignore SIGINT too).
  process.on("SIGINT", () => {})
  process.on("SIGTERM", () => fiber.unsafeInterruptAsFork(fiber.id()))
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) process.exit(0)
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  })
}

const argv = process.argv.slice(2)
HcLog.tolerateBrokenPipes()
if (argv.length === 0 || argv[0] === "serve") servePlugin()
else void import("../layers/Cli.js").then((cli) => cli.runCommands(argv))
