// Bundles the plugin into one CommonJS file: Node starts it without resolving hundreds of ESM
// modules (the handshake budget is 250 ms), and the file runs wherever it is copied, e.g. into
// Nomad's plugin_dir under the name containerd-driver, with no package.json next to it.
//
// The operator commands (layers/Cli.ts with @effect/cli, doctor, pull, spec, run) are a second bundle carried
// inside the first, compressed, and compiled only when a command runs. Measured on the plugin's start → handshake
// (15 interleaved starts of each build, 2 cores): as code, V8 parses them at every start, +50 ms; as a plain string
// literal, +60 ms (scanning and internalizing 5 MB); brotli-compressed in base64 (0.9 MB), +10 ms.
import { build } from "esbuild"
import { chmodSync } from "node:fs"
import { brotliCompressSync } from "node:zlib"

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minifySyntax: true,
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

const outfile = "dist/containerd-driver.cjs"
await build({
  ...common,
  entryPoints: ["src/main.ts"],
  outfile,
  banner: { js: "#!/usr/bin/env node" },
  plugins: [commandsAsText]
})
chmodSync(outfile, 0o755)
