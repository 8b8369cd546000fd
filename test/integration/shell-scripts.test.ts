/**
 * The shell scripts users and CI run, checked by ShellCheck (installed by scripts/test-env.sh). The Vagrant VM's
 * provisioning (scripts/vagrant-provision.sh) cannot boot here, so this is the check it gets in CI.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"

const scripts = [
  ...fs.readdirSync("scripts").filter((name) => name.endsWith(".sh")).map((name) => `scripts/${name}`),
  ".ci/run"
]

describe("shell scripts", () => {
  it("include the Vagrant provisioning", () => {
    expect(scripts).toContain("scripts/vagrant-provision.sh")
    expect(fs.readFileSync("Vagrantfile", "utf8")).toContain('path: "scripts/vagrant-provision.sh"')
  })

  it.each(scripts)("%s passes shellcheck at warning level", (script) => {
    const result = spawnSync("shellcheck", ["--severity=warning", "--external-sources", script], { encoding: "utf8" })
    expect(result.error).toBeUndefined()
    expect(result.stdout).toBe("")
    expect(result.status).toBe(0)
  })
})
