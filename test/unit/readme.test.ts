import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import { renderReadme } from "../../src/config/OptionTables.js"
import { driverOptions } from "../../src/config/DriverConfig.js"
import { taskOptions } from "../../src/config/TaskConfig.js"

describe("README option tables", () => {
  const readme = fs.readFileSync("README.md", "utf8")
  it("are what the option declarations generate (run npm run readme)", () => {
    expect(readme).toBe(renderReadme(readme))
  })
  it("list every plugin and task option", () => {
    for (const name of [...Object.keys(driverOptions), ...Object.keys(taskOptions)]) {
      expect(readme).toContain(`| \`${name}\` |`)
    }
  })
})

describe("the plugin version", () => {
  it("is package.json's version, a semver Nomad's go-version parses", async () => {
    const { pluginVersion } = await import("../../src/plugin/Version.js")
    expect(pluginVersion).toBe(JSON.parse(fs.readFileSync("package.json", "utf8")).version)
    expect(pluginVersion).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
