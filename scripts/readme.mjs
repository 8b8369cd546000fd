// Regenerates the option tables in README.md from the option declarations (src/config), so the
// docs cannot drift from what the plugin accepts. A unit test fails when README.md is stale.
import { build } from "esbuild"
import { readFileSync, writeFileSync } from "node:fs"

const result = await build({
  entryPoints: ["src/config/OptionTables.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
  logLevel: "warning"
})
const { renderReadme } = await import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString("base64")}`)
const before = readFileSync("README.md", "utf8")
const after = renderReadme(before)
if (after !== before) writeFileSync("README.md", after)
console.log(after === before ? "README.md is up to date" : "README.md option tables regenerated")
