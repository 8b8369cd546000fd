import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as fc from "fast-check"
import * as Manifest from "../../src/image/Manifest.js"
import * as Platform from "../../src/image/Platform.js"

const p = (os: string, architecture: string, variant?: string): Platform.Platform =>
  variant === undefined ? { os, architecture } : { os, architecture, variant }

const entry = (
  name: string,
  platform?: Platform.Platform,
  extra: Partial<Manifest.Descriptor> = {}
): Manifest.Descriptor => ({
  mediaType: Manifest.MediaType.ociManifest,
  digest: `sha256:${name.padEnd(64, "0")}`,
  size: 100,
  ...(platform !== undefined ? { platform } : {}),
  ...extra
})

const index = (...manifests: ReadonlyArray<Manifest.Descriptor>): Manifest.ImageIndex => ({
  schemaVersion: 2,
  mediaType: Manifest.MediaType.ociIndex,
  manifests
})

const selected = (idx: Manifest.ImageIndex, target: Platform.Platform) =>
  Option.getOrUndefined(Platform.selectManifest(idx, target))?.digest.slice(7, 7 + 6).replace(/0+$/, "")

describe("Platform.normalize", () => {
  const cases: ReadonlyArray<readonly [Platform.Platform, string]> = [
    [p("Linux", "x86_64"), "linux/amd64"],
    [p("linux", "x86-64"), "linux/amd64"],
    [p("linux", "amd64", "v1"), "linux/amd64"],
    [p("linux", "amd64", "v3"), "linux/amd64/v3"],
    [p("linux", "i386"), "linux/386"],
    [p("linux", "aarch64"), "linux/arm64"],
    [p("linux", "arm64", "v8"), "linux/arm64"],
    [p("linux", "arm64", "8"), "linux/arm64"],
    [p("linux", "armhf"), "linux/arm/v7"],
    [p("linux", "armel"), "linux/arm/v6"],
    [p("linux", "arm"), "linux/arm/v7"],
    [p("linux", "arm", "7"), "linux/arm/v7"],
    [p("linux", "arm", "6"), "linux/arm/v6"],
    [p("linux", "arm", "5"), "linux/arm/v5"],
    [p("macos", "arm64"), "darwin/arm64"],
    [p("", "amd64"), "linux/amd64"],
    [p("linux", "arm", "8"), "linux/arm/v8"],
    [p("linux", "arm", "v8"), "linux/arm/v8"],
    [p("linux", "arm64", "v9"), "linux/arm64/v9"],
    [p("linux", "amd64", "v2"), "linux/amd64/v2"]
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => {
      expect(Platform.format(Platform.normalize(input))).toBe(expected)
    })
  }

  it("keeps os.version and os.features as given, and adds neither when absent", () => {
    const windows: Platform.Platform = {
      os: "Windows",
      architecture: "x86_64",
      "os.version": "10.0.17763.1040",
      "os.features": ["win32k"]
    }
    expect(Platform.normalize(windows)).toStrictEqual({
      os: "windows",
      architecture: "amd64",
      "os.version": "10.0.17763.1040",
      "os.features": ["win32k"]
    })
    expect(Platform.normalize(p("Linux", "aarch64"))).toStrictEqual({ os: "linux", architecture: "arm64" })
  })

  it.prop("is idempotent", [fc.record({
    os: fc.constantFrom("linux", "Linux", "windows", "macos", ""),
    architecture: fc.constantFrom("amd64", "x86_64", "i386", "arm", "armhf", "armel", "arm64", "aarch64", "s390x"),
    variant: fc.constantFrom("", "v1", "v5", "6", "7", "v7", "8", "v8", "v3")
  })], ([platform]) => {
    const once = Platform.normalize(platform)
    expect(Platform.normalize(once)).toEqual(once)
  })
})

describe("Platform.fromNode / host", () => {
  it("maps Node's names to OCI names", () => {
    expect(Platform.fromNode("linux", "x64")).toEqual(p("linux", "amd64"))
    expect(Platform.fromNode("linux", "arm64")).toEqual(p("linux", "arm64"))
    expect(Platform.fromNode("linux", "arm", "7")).toEqual(p("linux", "arm", "v7"))
    expect(Platform.fromNode("linux", "arm", "6")).toEqual(p("linux", "arm", "v6"))
    expect(Platform.fromNode("linux", "arm")).toEqual(p("linux", "arm", "v7"))
    expect(Platform.fromNode("linux", "ia32")).toEqual(p("linux", "386"))
    expect(Platform.fromNode("win32", "x64")).toEqual(p("windows", "amd64"))
  })

  it("uses the ARM version for 32-bit ARM only", () => {
    expect(Platform.fromNode("linux", "x64", "7")).toStrictEqual({ os: "linux", architecture: "amd64" })
    expect(Platform.fromNode("linux", "arm64", "7")).toStrictEqual({ os: "linux", architecture: "arm64" })
  })

  it("host() describes this process", () => {
    const host = Platform.host()
    expect(host.os).toBe(process.platform === "win32" ? "windows" : process.platform)
    // Node's names for this machine, in the OCI spelling (the image-spec's GOARCH values), written out here.
    const architecture = ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", s390x: "s390x", ppc64: "ppc64le" } as Record<string, string>)[process.arch]
    expect(host.architecture).toBe(architecture)
    const armVersion = (process.config.variables as unknown as Record<string, unknown>)["arm_version"]
    expect(host.variant).toBe(process.arch === "arm" ? `v${typeof armVersion === "string" ? armVersion : "7"}` : undefined)
  })
})

describe("Platform.parse", () => {
  it("accepts os/arch[/variant] and arch[/variant]", () => {
    expect(Platform.parse("linux/arm64/v8")).toEqual(Either.right(p("linux", "arm64")))
    expect(Platform.parse("linux/amd64")).toEqual(Either.right(p("linux", "amd64")))
    expect(Platform.parse("arm/v6")).toEqual(Either.right(p("linux", "arm", "v6")))
    expect(Platform.parse("aarch64")).toEqual(Either.right(p("linux", "arm64")))
  })
  it("keeps the variant of a three-part specifier", () => {
    expect(Platform.parse("linux/arm/v6")).toEqual(Either.right(p("linux", "arm", "v6")))
    expect(Platform.parse("linux/amd64/v3")).toEqual(Either.right(p("linux", "amd64", "v3")))
  })
  it("reads the first of two parts as the OS when it is linux, windows, darwin or freebsd", () => {
    expect(Platform.parse("windows/amd64")).toEqual(Either.right(p("windows", "amd64")))
    expect(Platform.parse("darwin/arm64")).toEqual(Either.right(p("darwin", "arm64")))
    expect(Platform.parse("freebsd/amd64")).toEqual(Either.right(p("freebsd", "amd64")))
    expect(Platform.parse("Linux/amd64")).toEqual(Either.right(p("linux", "amd64")))
    expect(Platform.parse("arm64/v8")).toEqual(Either.right(p("linux", "arm64")))
  })
  it("rejects malformed specifiers with the input in the message", () => {
    const result = Platform.parse("linux//amd64")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.message).toContain("\"linux//amd64\"")
    expect(Either.isLeft(Platform.parse("a/b/c/d"))).toBe(true)
  })
  it("refuses any character outside letters, digits, _ . - in any part, with the reason and a usage hint", () => {
    for (const specifier of ["linux/amd64!", "linux/$amd64", "linux/amd 64", "", "linux/"]) {
      const result = Platform.parse(specifier)
      expect(Either.isLeft(result) && { reason: result.left.reason, message: result.left.message }).toEqual({
        reason: "InvalidSpecifier",
        message: `invalid platform ${JSON.stringify(specifier)}: expected os/arch[/variant], e.g. linux/arm64`
      })
    }
  })
})

describe("Platform.only (containerd's default matcher)", () => {
  it("orders amd64, lower amd64 variants, then 386", () => {
    expect(Platform.preferences(p("linux", "amd64")).map(Platform.format)).toEqual(["linux/amd64", "linux/386"])
    expect(Platform.preferences(p("linux", "amd64", "v3")).map(Platform.format)).toEqual([
      "linux/amd64/v3",
      "linux/amd64/v2",
      "linux/amd64",
      "linux/386"
    ])
  })

  it("lets arm64 run arm v8 down to v5", () => {
    expect(Platform.preferences(p("linux", "arm64")).map(Platform.format)).toEqual([
      "linux/arm64",
      "linux/arm/v8",
      "linux/arm/v7",
      "linux/arm/v6",
      "linux/arm/v5"
    ])
  })

  it("lets arm v7 run v6 and v5 as lower preferences", () => {
    const matcher = Platform.only(p("linux", "arm", "v7"))
    expect(matcher.rank(p("linux", "arm", "v7"))).toEqual(Option.some(0))
    expect(matcher.rank(p("linux", "arm"))).toEqual(Option.some(0))
    expect(matcher.rank(p("linux", "arm", "v6"))).toEqual(Option.some(1))
    expect(matcher.rank(p("linux", "arm", "v5"))).toEqual(Option.some(2))
    expect(matcher.match(p("linux", "arm", "v8"))).toBe(false)
    expect(matcher.match(p("linux", "arm64"))).toBe(false)
  })

  it("matches arm64 with and without the v8 variant", () => {
    const matcher = Platform.only(p("linux", "arm64"))
    expect(matcher.match(p("linux", "arm64", "v8"))).toBe(true)
    expect(matcher.match(p("linux", "arm64"))).toBe(true)
    expect(matcher.match(p("linux", "aarch64"))).toBe(true)
    expect(Platform.only(p("linux", "arm64", "v8")).match(p("linux", "arm64"))).toBe(true)
  })

  it("requires the same OS and architecture", () => {
    const matcher = Platform.only(p("linux", "amd64"))
    expect(matcher.match(p("windows", "amd64"))).toBe(false)
    expect(matcher.match(p("linux", "arm64"))).toBe(false)
    expect(matcher.match(p("unknown", "unknown"))).toBe(false)
    expect(matcher.match(p("Linux", "x86_64"))).toBe(true)
  })
})

describe("Platform.selectManifest", () => {
  const multi = index(
    entry("a", p("linux", "amd64")),
    entry("b", p("linux", "arm64", "v8")),
    entry("c", p("linux", "arm", "v7")),
    entry("d", p("linux", "arm", "v6"))
  )

  it("picks the exact platform for each host", () => {
    expect(selected(multi, p("linux", "amd64"))).toBe("a")
    expect(selected(multi, p("linux", "arm64"))).toBe("b")
    expect(selected(multi, p("linux", "arm", "v7"))).toBe("c")
    expect(selected(multi, p("linux", "arm", "v6"))).toBe("d")
  })

  it("falls back to a compatible lower variant", () => {
    const armOnly = index(entry("d", p("linux", "arm", "v6")), entry("e", p("linux", "arm", "v5")))
    expect(selected(armOnly, p("linux", "arm", "v7"))).toBe("d")
    expect(selected(armOnly, p("linux", "arm64"))).toBe("d")
    expect(selected(index(entry("f", p("linux", "386"))), p("linux", "amd64"))).toBe("f")
  })

  it("prefers the best rank regardless of position", () => {
    const reversed = index(entry("e", p("linux", "arm", "v5")), entry("c", p("linux", "arm", "v7")))
    expect(selected(reversed, p("linux", "arm", "v7"))).toBe("c")
  })

  it("uses entries without a platform only as a last resort", () => {
    const withUnknown = index(entry("n"), entry("a", p("linux", "amd64")))
    expect(selected(withUnknown, p("linux", "amd64"))).toBe("a")
    expect(selected(withUnknown, p("linux", "s390x"))).toBe("n")
  })

  it("never picks attestation manifests or non-manifest entries", () => {
    const attested = index(
      entry("x", p("unknown", "unknown"), { annotations: { "vnd.docker.reference.type": "attestation-manifest" } }),
      entry("y", undefined, { annotations: { "vnd.docker.reference.type": "attestation-manifest" } }),
      entry("z", undefined, { mediaType: "application/vnd.example.artifact" })
    )
    expect(selected(attested, p("linux", "amd64"))).toBeUndefined()
  })

  it("keeps index order among entries of equal rank (a stable sort, as containerd's)", () => {
    const ties = index(
      entry("n1"),
      entry("i", p("linux", "386")),
      entry("a", p("linux", "amd64")),
      entry("n2"),
      entry("b", p("linux", "x86_64"))
    )
    const order = Platform.orderManifests(ties.manifests, Platform.only(p("linux", "amd64")))
      .map((m) => m.digest.slice(7, 9).replace(/0+$/, ""))
    expect(order).toEqual(["a", "b", "i", "n1", "n2"])
  })

  it("handles Docker manifest lists the same way", () => {
    const list: Manifest.ImageIndex = {
      schemaVersion: 2,
      mediaType: Manifest.MediaType.dockerManifestList,
      manifests: [
        entry("a", p("linux", "amd64"), { mediaType: Manifest.MediaType.dockerManifest }),
        entry("b", p("linux", "arm64", "v8"), { mediaType: Manifest.MediaType.dockerManifest })
      ]
    }
    expect(selected(list, p("linux", "arm64"))).toBe("b")
  })

  it("returns none when nothing matches, and lists what is offered", () => {
    const armOnly = index(entry("b", p("linux", "arm64", "v8")))
    expect(Platform.selectManifest(armOnly, p("linux", "amd64"))).toEqual(Option.none())
    expect(Platform.offered(armOnly)).toEqual(["linux/arm64"])
  })

  it("offers normalised platforms, leaving out attestations and entries without a platform", () => {
    const mixed = index(
      entry("a", p("linux", "x86_64")),
      entry("x", p("unknown", "unknown"), { annotations: { "vnd.docker.reference.type": "attestation-manifest" } }),
      entry("n"),
      entry("c", p("linux", "armhf"))
    )
    expect(Platform.offered(mixed)).toEqual(["linux/amd64", "linux/arm/v7"])
  })

  it.prop(
    "the selected entry always matches the target and no other entry ranks better",
    [
      fc.array(
        fc.record({
          architecture: fc.constantFrom("amd64", "386", "arm64", "arm", "s390x"),
          variant: fc.constantFrom(undefined, "v5", "v6", "v7", "v8", "v2")
        }),
        { maxLength: 6 }
      ),
      fc.constantFrom(p("linux", "amd64"), p("linux", "arm64"), p("linux", "arm", "v7"), p("linux", "arm", "v6"))
    ],
    ([platforms, target]) => {
      const idx = index(...platforms.map((pl, i) => entry(String(i), p("linux", pl.architecture, pl.variant))))
      const matcher = Platform.only(target)
      const best = Platform.selectManifest(idx, target)
      const ranks = idx.manifests.flatMap((m) => Option.toArray(matcher.rank(m.platform!)))
      if (Option.isNone(best)) {
        expect(ranks).toEqual([])
      } else {
        const rank = Option.getOrThrow(matcher.rank(best.value.platform!))
        expect(Math.min(...ranks)).toBe(rank)
      }
    }
  )
})
