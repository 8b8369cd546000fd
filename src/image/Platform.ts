/**
 * Platforms (os/architecture/variant): normalisation, the host platform, and choosing the best manifest of an
 * index the way containerd's default matcher (`platforms.Only`) does.
 */
import { Data, Either, Option } from "effect"
import * as Manifest from "./Manifest.js"

export type Platform = Manifest.Platform

export class PlatformError extends Data.TaggedError("PlatformError")<{
  readonly reason: "InvalidSpecifier"
  readonly message: string
}> {}

const make = (os: string, architecture: string, variant: string): Platform =>
  variant === "" ? { os, architecture } : { os, architecture, variant }

const normalizeOs = (os: string): string => {
  const lower = os.toLowerCase()
  if (lower === "") return "linux"
  return lower === "macos" ? "darwin" : lower
}

const normalizeArchitecture = (architecture: string, variant: string): readonly [string, string] => {
  const arch = architecture.toLowerCase()
  const v = variant.toLowerCase()
  switch (arch) {
    case "i386":
      return ["386", ""]
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", v === "v1" ? "" : v]
    case "aarch64":
    case "arm64":
      return ["arm64", v === "8" || v === "v8" ? "" : v]
    case "armhf":
      return ["arm", "v7"]
    case "armel":
      return ["arm", "v6"]
    case "arm":
      if (v === "" || v === "7") return ["arm", "v7"]
      if (v === "5" || v === "6" || v === "8") return ["arm", `v${v}`]
      return ["arm", v]
    default:
      return [arch, v]
  }
}

/** containerd's `platforms.Normalize` (os.version/os.features are kept as given). */
export const normalize = (platform: Platform): Platform => {
  const [architecture, variant] = normalizeArchitecture(platform.architecture, platform.variant ?? "")
  const base = make(normalizeOs(platform.os), architecture, variant)
  return {
    ...base,
    ...(platform["os.version"] !== undefined ? { "os.version": platform["os.version"] } : {}),
    ...(platform["os.features"] !== undefined ? { "os.features": platform["os.features"] } : {})
  }
}

const nodeArchitectures: Readonly<Record<string, string>> = {
  x64: "amd64",
  ia32: "386",
  arm64: "arm64",
  arm: "arm",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle"
}

const nodeOperatingSystems: Readonly<Record<string, string>> = { win32: "windows", sunos: "solaris" }

/** The platform of a Node process given `process.platform`, `process.arch` and, on 32-bit ARM, its version. */
export const fromNode = (nodePlatform: string, nodeArch: string, armVersion?: string): Platform => {
  const architecture = nodeArchitectures[nodeArch] ?? nodeArch
  const variant = architecture === "arm" && armVersion !== undefined && armVersion !== "" ? armVersion : ""
  return normalize(make(nodeOperatingSystems[nodePlatform] ?? nodePlatform, architecture, variant))
}

/** The platform this process runs on (`linux/amd64`, `linux/arm64`, `linux/arm/v7`, ...). */
export const host = (): Platform => {
  const variables = process.config.variables as unknown as Record<string, unknown>
  const armVersion = variables["arm_version"]
  return fromNode(process.platform, process.arch, typeof armVersion === "string" ? armVersion : undefined)
}

/** `os/architecture[/variant]` */
export const format = (platform: Platform): string =>
  [platform.os, platform.architecture, platform.variant ?? ""].filter((part) => part !== "").join("/")

/** Parses `os/arch[/variant]` or `arch[/variant]` (OS defaults to linux) and normalises it. */
export const parse = (specifier: string): Either.Either<Platform, PlatformError> => {
  const parts = specifier.split("/")
  const fail = () =>
    Either.left(
      new PlatformError({
        reason: "InvalidSpecifier",
        message: `invalid platform ${JSON.stringify(specifier)}: expected os/arch[/variant], e.g. linux/arm64`
      })
    )
  if (parts.length === 0 || parts.length > 3 || parts.some((part) => !/^[A-Za-z0-9_.-]+$/.test(part))) return fail()
  const [a = "", b = "", c = ""] = parts
  if (parts.length === 1) return Either.right(normalize(make("linux", a, "")))
  if (parts.length === 2) {
    // `linux/amd64` or `arm/v7`: the first part is an OS if it is a known one
    return ["linux", "windows", "darwin", "freebsd"].includes(a.toLowerCase()) ?
      Either.right(normalize(make(a, b, ""))) :
      Either.right(normalize(make("linux", a, b)))
  }
  return Either.right(normalize(make(a, b, c)))
}

const equals = (a: Platform, b: Platform): boolean =>
  a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "")

/**
 * containerd's `platformVector`: the platforms a host can run, best first. amd64 vN also runs lower amd64
 * variants and 386; arm64 also runs arm v8…v5; arm vN also runs arm vN-1…v5.
 */
export const preferences = (target: Platform): ReadonlyArray<Platform> => {
  const p = normalize(target)
  const vector: Array<Platform> = [p]
  const version = (variant: string | undefined) => Number.parseInt((variant ?? "").replace(/^v/, ""), 10)
  switch (p.architecture) {
    case "amd64": {
      const n = version(p.variant)
      if (Number.isInteger(n) && n > 1) {
        for (let v = n - 1; v >= 1; v--) vector.push(normalize(make(p.os, "amd64", `v${v}`)))
      }
      vector.push(make(p.os, "386", ""))
      break
    }
    case "arm": {
      const n = version(p.variant)
      if (Number.isInteger(n) && n > 5) {
        for (let v = n - 1; v >= 5; v--) vector.push(make(p.os, "arm", `v${v}`))
      }
      break
    }
    case "arm64": {
      vector.push(...preferences(make(p.os, "arm", p.variant ?? "v8")).map(normalize))
      break
    }
  }
  return vector
}

export interface Matcher {
  readonly target: Platform
  /** True when the target can run `platform`. */
  readonly match: (platform: Platform) => boolean
  /** Preference rank of `platform` (0 = best), or none when it does not match. */
  readonly rank: (platform: Platform) => Option.Option<number>
}

/** containerd's `platforms.Only(target)`: an ordered matcher over `preferences(target)`. */
export const only = (target: Platform): Matcher => {
  const vector = preferences(target)
  const rank = (platform: Platform): Option.Option<number> => {
    const normalized = normalize(platform)
    const index = vector.findIndex((candidate) => equals(candidate, normalized))
    return index >= 0 ? Option.some(index) : Option.none()
  }
  return { target: normalize(target), match: (platform) => Option.isSome(rank(platform)), rank }
}

const ATTESTATION_ANNOTATION = "vnd.docker.reference.type"

const isAttestation = (descriptor: Manifest.Descriptor): boolean =>
  descriptor.annotations?.[ATTESTATION_ANNOTATION] === "attestation-manifest"

/**
 * The index entries `matcher` accepts, best first (stable for equal ranks). Entries without a platform match
 * but sort last; buildx attestation manifests and non-manifest media types are dropped.
 */
export const orderManifests = (
  manifests: ReadonlyArray<Manifest.Descriptor>,
  matcher: Matcher
): ReadonlyArray<Manifest.Descriptor> => {
  const ranked: Array<{ readonly descriptor: Manifest.Descriptor; readonly rank: number; readonly position: number }> =
    []
  manifests.forEach((descriptor, position) => {
    if (isAttestation(descriptor)) return
    if (!Manifest.isManifest(descriptor.mediaType) && !Manifest.isIndex(descriptor.mediaType)) return
    if (descriptor.platform === undefined) {
      ranked.push({ descriptor, rank: Number.MAX_SAFE_INTEGER, position })
      return
    }
    const rank = matcher.rank(descriptor.platform)
    if (Option.isSome(rank)) ranked.push({ descriptor, rank: rank.value, position })
  })
  ranked.sort((a, b) => a.rank - b.rank || a.position - b.position)
  return ranked.map((entry) => entry.descriptor)
}

/** The best manifest of an index for `target` (default: the host), as `LimitManifests(…, 1)` would keep it. */
export const selectManifest = (
  index: Manifest.ImageIndex,
  target: Platform = host()
): Option.Option<Manifest.Descriptor> => Option.fromNullable(orderManifests(index.manifests, only(target))[0])

/** Platforms offered by an index, for an actionable "no matching manifest" message. */
export const offered = (index: Manifest.ImageIndex): ReadonlyArray<string> =>
  index.manifests.flatMap((descriptor) =>
    descriptor.platform !== undefined && !isAttestation(descriptor) ? [format(normalize(descriptor.platform))] : []
  )
