// StartTask → task running (image present) beside `ctr run -d` and bare `runc run -d`, interleaved: the start case
// of bench/run.mjs alone (bench/cases/start.mjs describes the contenders). Usage, after `npm run build` with the
// test environment up (as root):
//   node bench/start.mjs [rounds] [--settle=ms] [--timeline] [--cpu-prof=dir]
// default 20 rounds, 250 ms pause after each teardown (containerd's GC and the shims settle); --timeline: the
// containerd calls inside each StartTask from the plugin's grpc-js trace (it slows the plugin a little: compare its
// totals with a run without it); --cpu-prof: the plugin runs under `node --cpu-prof`, its profile in dir/start/.
import { resolve } from "node:path"
import start from "./cases/start.mjs"
import { defaults, integerArg, parseArgs, session } from "./lib/session.mjs"

const usage = "usage: node bench/start.mjs [rounds] [--settle=ms] [--timeline] [--cpu-prof=dir]"
const { positional, values, on } = parseArgs(process.argv.slice(2), { flags: ["settle", "cpu-prof"], switches: ["timeline"], usage })
await session([start], {
  ...defaults(),
  startRounds: integerArg(positional[0], "rounds", 20, 3, usage),
  settleMs: integerArg(values.settle, "--settle", 250, 0, usage),
  timeline: on.has("timeline"),
  cpuProfDir: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"])
})
