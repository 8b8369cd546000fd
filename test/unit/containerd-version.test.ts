// Lenient parsing of containerd version strings (Debian suffixes, leading v, pre-release/build suffixes).
import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { compareVersions, parseVersion } from "../../src/containerd/version.js"

describe("parseVersion", () => {
  it.each([
    ["1.6.20~ds1", { major: 1, minor: 6, patch: 20 }],
    ["v1.7.27", { major: 1, minor: 7, patch: 27 }],
    ["2.2.0", { major: 2, minor: 2, patch: 0 }],
    ["1.7.0-rc.1+unknown", { major: 1, minor: 7, patch: 0 }],
    ["2.0", { major: 2, minor: 0, patch: 0 }]
  ])("%s", (raw, expected) => {
    expect(parseVersion(raw)).toEqual(Option.some(expected))
  })

  it.each(["", "devel", "1", "a.b.c"])("rejects %j", (raw) => {
    expect(Option.isNone(parseVersion(raw))).toBe(true)
  })

  it("orders versions numerically", () => {
    const v = (raw: string) => Option.getOrThrow(parseVersion(raw))
    expect(compareVersions(v("1.6.20"), v("1.7.0"))).toBeLessThan(0)
    expect(compareVersions(v("1.10.0"), v("1.9.9"))).toBeGreaterThan(0)
    expect(compareVersions(v("2.0.0~x"), v("v2.0.0"))).toBe(0)
  })
})
