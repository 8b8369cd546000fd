// The \`spec\` command's own checks: resources must be numbers the runtime spec can hold, env entries KEY=VALUE.
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { specArgs } from "../../layers/SpecCommand.js"

const options = {
  file: "job.nomad",
  configFile: undefined,
  task: undefined,
  env: [],
  user: undefined,
  cpu: undefined,
  memory: undefined,
  memoryMax: undefined
}

describe("containerd-driver spec options", () => {
  it("take resources as whole numbers and the environment as KEY=VALUE", () => {
    expect(specArgs({ ...options, memory: "512", cpu: "500", env: ["A=1", "B=x=y"] })).toEqual(
      Either.right({ ...options, env: { A: "1", B: "x=y" }, memory: 512, cpu: 500 })
    )
  })

  it("refuse numbers the runtime spec could not hold, and anything else, naming the option", () => {
    for (const bad of ["99999999999999999999", "1e3", "-1", "1.5", "8589934592"]) {
      expect(specArgs({ ...options, memory: bad })).toEqual(
        Either.left(`--memory needs a whole number from 0 to 8589934591, got ${bad}`)
      )
    }
    expect(specArgs({ ...options, env: ["NOVALUE"] })).toEqual(Either.left('--env needs KEY=VALUE, got "NOVALUE"'))
  })
})
