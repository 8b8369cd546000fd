// Bundles the plugin into one CommonJS file: Node starts it without resolving hundreds of ESM
// modules (the handshake budget is 250 ms), and the file runs wherever it is copied, e.g. into
// Nomad's plugin_dir under the name containerd-driver, with no package.json next to it.
//
// The operator commands (layers/Cli.ts with @effect/cli, doctor, pull, spec, run) are a second bundle carried
// inside the first, compressed, and compiled only when a command runs. Measured on the plugin's start → handshake
// (15 interleaved starts of each build, 2 cores): as code, V8 parses them at every start, +50 ms; as a plain string
// literal, +60 ms (scanning and internalizing 5 MB); brotli-compressed in base64 (0.9 MB), +10 ms.
//
// Compiling the plugin's 3.5 MB was then the largest part of a start (190 of 520 ms of CPU, V8's wrapSafe, in a
// --cpu-prof of the handshake). So the file is a small launcher with the plugin as a comment after it: the launcher
// compiles it with V8's code cache from an earlier start (scripts/launcher.cjs), which cuts that compile to ~40 ms.
import { build } from "esbuild"
import { createHash } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { brotliCompressSync } from "node:zlib"

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minifySyntax: true,
  // 50 ms less of a start to read and scan (345 vs 393 ms median handshake, code cache warm). BUNDLE_READABLE=1
  // keeps the whitespace and esbuild's "// path" line before each module, which bench/profile-summary.mjs reads.
  minifyWhitespace: process.env["BUNDLE_READABLE"] !== "1",
  legalComments: "none",
  logLevel: "warning"
}

const commands = await build({ ...common, entryPoints: ["layers/Cli.ts"], write: false })
// Wrapped as Node wraps a CommonJS module, so the compiled script evaluates to the module function.
const commandsSource = `(function (module, exports, require, __filename, __dirname) {\n${commands.outputFiles[0].text}\n})`
const commandsPacked = brotliCompressSync(Buffer.from(commandsSource, "utf8")).toString("base64")

/** Resolves the entry point's import of layers/Cli.js to a module that compiles the commands' bundle on first use. */
const commandsAsText = {
  name: "commands-as-text",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /\/layers\/Cli\.js$/ }, () => ({ path: "commands", namespace: "commands-as-text" }))
    pluginBuild.onLoad({ filter: /.*/, namespace: "commands-as-text" }, () => ({
      loader: "js",
      contents: `const vm = require("node:vm")
const { brotliDecompressSync } = require("node:zlib")
const source = brotliDecompressSync(Buffer.from("${commandsPacked}", "base64")).toString("utf8")
const compiled = new vm.Script(source, { filename: "containerd-driver-commands.cjs" }).runInThisContext()
const commands = { exports: {} }
compiled(commands, commands.exports, require, __filename, __dirname)
module.exports = commands.exports`
    }))
  }
}

const plugin = await build({ ...common, entryPoints: ["src/main.ts"], write: false, plugins: [commandsAsText] })
// Wrapped as Node wraps a CommonJS module; pure ASCII, so the launcher can read it as latin1 (no UTF-8 decoding).
const pluginSource = `(function (exports, require, module, __filename, __dirname) {\n${plugin.outputFiles[0].text}\n})`
if (!/^[\x00-\x7f]*$/.test(pluginSource) || pluginSource.includes("\x01")) {
  throw new Error("the plugin bundle must be ASCII without \\x01 (scripts/launcher.cjs reads it as latin1 and uses \\x01)")
}
// Carried as a comment, so each "*/" of the code (in strings and regexes) is written "*\x01/" and restored on reading.
const pluginCarried = pluginSource.replaceAll("*/", "*\x01/")
// The code cache is named by the source's hash: V8 itself only checks the source's length.
const sourceHash = createHash("sha256").update(pluginSource).digest("hex").slice(0, 16)
const launcher = readFileSync("scripts/launcher.cjs", "utf8").replace("@SOURCE_HASH@", sourceHash)

const outfile = "dist/containerd-driver.cjs"
mkdirSync("dist", { recursive: true })
writeFileSync(outfile, `#!/usr/bin/env node\n${launcher}\n/*PLUGIN\n${pluginCarried}\n*/\n`)
chmodSync(outfile, 0o755)
