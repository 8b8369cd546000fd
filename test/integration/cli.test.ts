/**
 * The operator commands' command line (layers/Cli.ts), on the built executable as a user types it: help for each
 * command, exit code 2 and one line for a bad command line, Nomad's one-dash `-var`, and the plugin file staying
 * the plugin when started without a command. The commands' own work is tested in spec-command, run-*, registries-cli.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { builtPlugin } from "../support/PluginProcess.js"

const cli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const result = spawnSync(process.execPath, [builtPlugin, ...args], {
    encoding: "utf8",
    env: { ...process.env, CONTAINERD_DRIVER_REGISTRY_PASSWORD: "", ...env }
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("containerd-driver's command line", () => {
  it.each([
    ["doctor", ["--config", "--image"]],
    ["pull", ["--config", "--force", "--user", "--timeout", "<IMAGE>"]],
    ["spec", ["--config", "--task", "--env", "--cpu", "--memory", "--memory-max", "<JOBFILE>"]],
    ["run", ["--var", "--var-file", "--config", "--host-volume", "--verbose", "<JOBFILE>"]]
  ])("%s --help lists its options and exits 0", (command, options) => {
    const result = cli([command, "--help"])
    expect(result.status).toBe(0)
    for (const option of options) expect(result.stdout).toContain(option)
  })

  it("help names every command; `help` is --help", () => {
    const long = cli(["--help"])
    const short = cli(["help"])
    expect(long.status).toBe(0)
    expect(short.stdout).toBe(long.stdout)
    for (const command of ["doctor", "pull", "spec", "run", "version"]) expect(long.stdout).toContain(command)
  })

  it("--help after other options, or as `help CMD`, shows the command's help, in plain text when piped", () => {
    const direct = cli(["pull", "--help"])
    for (const args of [["pull", "--timeout", "1s", "--help"], ["help", "pull"]]) {
      const result = cli(args)
      expect(result.status).toBe(0)
      expect(result.stdout).toBe(direct.stdout)
    }
    expect(direct.stdout).toContain("--timeout")
    expect(direct.stdout).not.toContain("\x1b[")
  })

  it("pull's help tells where the password comes from, and no command takes one on the command line", () => {
    const help = cli(["pull", "--help"]).stdout
    expect(help).toContain("CONTAINERD_DRIVER_REGISTRY_PASSWORD")
    expect(help).not.toMatch(/USER:PASSWORD/)
  })

  it.each([
    ["an unknown command", ["deploy"], /deploy|subcommand/i],
    ["a missing image", ["pull"], /Missing argument <IMAGE>/],
    ["an unknown option", ["pull", "--frobnicate", "x/y"], /pull has no option --frobnicate; its options are --config, --force/],
    ["an unknown option after the image", ["pull", "x/y", "--forse"], /pull has no option --forse/],
    ["a missing job file", ["spec"], /Missing argument <JOBFILE>/]
  ])("%s is a bad command line: exit 2, one explanation, nothing on stdout", (_name, args, message) => {
    const result = cli(args)
    expect(result.status).toBe(2)
    expect(result.stdout + result.stderr).toMatch(message)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it("an invalid value the parser cannot judge is the command's own error: --timeout must be a Go duration", () => {
    const result = cli(["pull", "--timeout", "5 minutes", "127.0.0.1:1/x:y"])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/timeout/)
  })

  it("-var and -var-file are read as Nomad spells them: an undeclared variable is named", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-cli-"))
    try {
      const job = path.join(dir, "job.nomad")
      fs.writeFileSync(job, `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config { image = "x" }\n    }\n  }\n}\n`)
      const varFile = path.join(dir, "vars.hcl")
      fs.writeFileSync(varFile, `w = "2"\n`)
      const oneDash = cli(["run", "-var", "v=1", job])
      expect(oneDash.status).not.toBe(0)
      expect(oneDash.stderr).toMatch(/Undefined -var variable: a "v" variable/)
      const fromFile = cli(["run", "-var-file", varFile, job])
      expect(fromFile.status).not.toBe(0)
      expect(fromFile.stderr).toMatch(/"w"/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("version prints the plugin's name and version", () => {
    const result = cli(["version"])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^containerd-driver v\d+\.\d+\.\d+\n$/)
  })

  it("without a command and without Nomad's environment, it refuses to serve and writes nothing on stdout", () => {
    const result = cli([], { NOMAD_PLUGIN_MAGIC_COOKIE: "" })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toMatch(/plugin/i)
  })
})
