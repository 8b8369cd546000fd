// Pull + unpack of a ~95 MB, 4-layer image beside `ctr images pull`, alternating: the pull case of bench/run.mjs
// alone (bench/cases/pull.mjs), here also with the CLI pull. Usage, after `npm run build` with the test environment
// up (as root):
//   node bench/pull.mjs [runs] [image] [--only=in-process|cli] [--timeline] [--downloads=N]
// default 7 runs of 127.0.0.1:5000/test/big:latest; --timeline prints every in-process run's steps; --downloads sets
// the in-process ImageStore's maxConcurrentDownloads (default: its own default). Budget (in-process): ≤ 1.1 × ctr.
import pull from "./cases/pull.mjs"
import { defaults, integerArg, parseArgs, session } from "./lib/session.mjs"

const usage = "usage: node bench/pull.mjs [runs] [image] [--only=in-process|cli] [--timeline] [--downloads=N]"
const { positional, values, on } = parseArgs(process.argv.slice(2), { flags: ["only", "downloads"], switches: ["timeline"], usage })
if (values.only !== undefined && !["in-process", "cli"].includes(values.only)) {
  console.error(`--only must be in-process or cli\n${usage}`)
  process.exit(2)
}
const options = defaults()
await session([pull], {
  ...options,
  pullRounds: integerArg(positional[0], "runs", 7, 1, usage),
  pullImage: positional[1] ?? `${options.registry}/test/big:latest`,
  pullModes: values.only === undefined ? ["in-process", "cli"] : [values.only],
  pullTimelines: on.has("timeline"),
  pullDownloads: integerArg(values.downloads, "--downloads", undefined, 1, usage)
})
