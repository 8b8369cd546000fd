// The repository's TypeScript the benchmarks drive (scripts/<name>-bench-entry.ts), bundled in memory and loaded from
// a file in the run's scratch directory — not from a data: URL, where every stack frame would name the whole bundle
// and stack traces taken during a pull would dominate its profile. CommonJS dependencies (grpc-js) get a `require`
// for Node's built-in modules.
import { build } from "esbuild"
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

const root = resolve(import.meta.dirname, "../..")

export const loadEntry = async (name, dir) => {
  const result = await build({
    entryPoints: [join(root, "scripts", `${name}-bench-entry.ts`)],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minifySyntax: true,
    write: false,
    logLevel: "warning",
    banner: { js: `import { createRequire as __benchCreateRequire } from "node:module"; const require = __benchCreateRequire(import.meta.url);` }
  })
  const file = join(dir, `${name}-bench-entry.mjs`)
  writeFileSync(file, result.outputFiles[0].text)
  return import(pathToFileURL(file).href)
}
