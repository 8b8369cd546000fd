// The `spec` command's own options: resources must be numbers the runtime spec can hold.
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseArgs } from "../../layers/SpecCommand.js"

describe("containerd-driver spec options", () => {
  it("take resources as whole numbers", () => {
    expect(parseArgs(["--memory", "512", "--cpu", "500", "job.nomad"])).toEqual(
      Either.right({ env: {}, file: "job.nomad", memory: 512, cpu: 500 })
    )
  })

  it("refuse numbers the runtime spec could not hold, and anything else, naming the option", () => {
    for (const bad of ["99999999999999999999", "1e3", "-1", "1.5", "8589934592"]) {
      expect(parseArgs(["--memory", bad, "job.nomad"])).toEqual(
        Either.left(`--memory needs a whole number from 0 to 8589934591, got ${bad}`)
      )
    }
  })
})
