/**
 * containerd version strings as reported by Version/Version, e.g. "1.6.20~ds1" (Debian),
 * "v1.7.27", "2.2.0", "1.7.0-rc.1+unknown". Parsed leniently: strip a leading "v", cut at the first
 * "~", "-" or "+", then read major.minor[.patch].
 */
import { Option } from "effect"

export interface ContainerdVersion {
  readonly major: number
  readonly minor: number
  readonly patch: number
}

export const parseVersion = (raw: string): Option.Option<ContainerdVersion> => {
  const core = raw.trim().replace(/^v/, "").split(/[~+-]/, 1)[0] ?? ""
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(core)
  if (match === null) return Option.none()
  return Option.some({
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: match[3] === undefined ? 0 : Number(match[3])
  })
}

/** Orders two versions: negative when a < b, 0 when equal, positive when a > b. */
export const compareVersions = (a: ContainerdVersion, b: ContainerdVersion): number =>
  a.major - b.major || a.minor - b.minor || a.patch - b.patch
