// The operator options' glob patterns (src/policy/Glob.ts), against a regular expression built from the pattern
// as the option docs describe it (test/support/globOracle.ts).
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { globMatches, isGlob, literalLength } from "../../src/policy/Glob.js"
import { globOracle } from "../support/globOracle.js"

describe("glob patterns", () => {
  it.prop(
    "match exactly what the regular expression of the pattern matches",
    [
      fc.array(fc.constantFrom("a", "b", "/", ".", "*", "?"), { maxLength: 8 }).map((cs) => cs.join("")),
      fc.array(fc.constantFrom("a", "b", "/", ".", "*"), { maxLength: 10 }).map((cs) => cs.join(""))
    ],
    ([pattern, text]) => {
      expect(globMatches(pattern, text)).toBe(globOracle(pattern, text))
    }
  )

  it.each([
    ["runc", "runc", true], ["runc", "runc2", false], ["runc", "run", false], ["", "", true], ["", "a", false],
    ["*", "", true], ["**", "", true], ["a*", "a", true], ["a**", "a", true], ["*a", "ba", true], ["*a", "ab", false],
    ["a*b*c", "a/x/b/y/c", true], ["a*b*c", "acb", false], ["?", "", false], ["?", "/", true], ["a?c", "abc", true],
    ["a?c", "ac", false], ["/dev/nvidia*", "/dev/nvidia0", true], ["/dev/nvidia*", "/dev/nvidi", false],
    ["*.v2", "io.containerd.runc.v2", true], ["*.v2", "io.containerd.runc.v1", false], ["io.*.v?", "io.x.v2", true],
    ["*ab", "aab", true], ["*aab", "aaab", true], ["a*?", "a", false], ["a*?", "ab", true]
  ])("%j against %j: %s", (pattern, text, matches) => {
    expect(globMatches(pattern, text)).toBe(matches)
  })

  it("are globs when they have a * or a ?, and count their literal characters", () => {
    expect([isGlob("prod"), isGlob("prod-*"), isGlob("prod-?"), isGlob("*"), isGlob("")]).toEqual([false, true, true, true, false])
    expect([literalLength("a*b?c"), literalLength("*?"), literalLength("abc"), literalLength("")]).toEqual([3, 0, 3, 0])
  })
})
