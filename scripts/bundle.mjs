// Bundles the plugin into one CommonJS file: Node starts it without resolving hundreds of ESM
// modules (the handshake budget is 250 ms), and the file runs wherever it is copied, e.g. into
// Nomad's plugin_dir under the name containerd-driver, with no package.json next to it.
import { build } from "esbuild"
import { chmodSync } from "node:fs"

const outfile = "dist/containerd-driver.cjs"
await build({
  entryPoints: ["src/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minifySyntax: true,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning"
})
chmodSync(outfile, 0o755)
