// Plugin start → handshake line beside bare `node`: the handshake case of bench/run.mjs alone (bench/cases/
// handshake.mjs). Usage, after `npm run build` with the test environment up (as root): node bench/handshake.mjs
// [runs] (default 20). Budget: 250 ms.
import handshake from "./cases/handshake.mjs"
import { defaults, integerArg, parseArgs, session } from "./lib/session.mjs"

const usage = "usage: node bench/handshake.mjs [runs]"
const { positional } = parseArgs(process.argv.slice(2), { usage })
await session([handshake], { ...defaults(), handshakeRuns: integerArg(positional[0], "runs", 20, 3, usage) })
