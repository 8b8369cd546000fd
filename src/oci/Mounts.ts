/**
 * Mounts: the task's `mounts` option, Nomad's volume mounts, the task directories, relative-source resolution
 * with its escape check, and the merge rule that keeps one mount per destination.
 *
 * Merge rule (pinned by tests): mounts are added in groups of rising precedence — containerd's defaults, the
 * hosts/resolv.conf files, the task's `mounts`, Nomad's `volume_mount`s, the task directories. A mount whose
 * cleaned destination equals an earlier one replaces it (at the earlier one's place, so replacing a default such
 * as /dev keeps it ahead of /dev/shm); the mounts added after the defaults are then ordered parents-first (by path
 * depth, stable), as dockerd does, so a mount inside another (e.g. /local/data inside /local) is never hidden.
 */
import * as path from "node:path"
import { Either } from "effect"
import type { Mount } from "./RuntimeSpec.js"
import type { HostFacts, NomadMount, NomadTask, TaskConfig } from "./SpecInput.js"
import { type SpecError, specError } from "./SpecError.js"

const posix = path.posix

/** `/a//b/` → `/a/b`; the identity of a mount destination. */
export const cleanDestination = (destination: string): string => {
  const cleaned = posix.normalize(destination)
  return cleaned.length > 1 && cleaned.endsWith("/") ? cleaned.slice(0, -1) : cleaned
}

/** Host paths of the task's directories (hashicorp/nomad client/allocdir). */
export const taskDirectories = (nomad: Pick<NomadTask, "alloc_dir" | "name">) => {
  const taskDir = posix.join(nomad.alloc_dir, nomad.name)
  return {
    taskDir,
    local: posix.join(taskDir, "local"),
    secrets: posix.join(taskDir, "secrets"),
    alloc: posix.join(nomad.alloc_dir, "alloc")
  }
}

/** Container paths of the task directories: from NOMAD_*_DIR in the task env, else /alloc, /local, /secrets. */
export const taskDirectoryTargets = (env: Readonly<Record<string, string>>) => ({
  alloc: nonEmpty(env.NOMAD_ALLOC_DIR) ?? "/alloc",
  local: nonEmpty(env.NOMAD_TASK_DIR) ?? "/local",
  secrets: nonEmpty(env.NOMAD_SECRETS_DIR) ?? "/secrets"
})

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

export interface ResolvedSource {
  /** The host path to mount. */
  readonly source: string
  /** For a relative source, the task directory it must stay inside. */
  readonly within?: string
}

/**
 * A bind source as written in the job: absolute host paths are used as they are (the original allows any host
 * path); relative ones must start with `local/`, `secrets/` or `alloc/` and resolve inside that directory of
 * this task (`alloc/` is the shared allocation dir). `..` that leaves the directory is refused.
 */
export const resolveMountSource = (
  source: string,
  nomad: Pick<NomadTask, "alloc_dir" | "name">
): Either.Either<ResolvedSource, SpecError> => {
  if (posix.isAbsolute(source)) return Either.right({ source })
  const dirs = taskDirectories(nomad)
  const withoutDot = source.replace(/^(\.\/)+/, "")
  const first = withoutDot.split("/")[0]
  const within = first === "local" ? dirs.local : first === "secrets" ? dirs.secrets : first === "alloc" ? dirs.alloc : undefined
  if (within === undefined) {
    return Either.left(
      specError(
        "InvalidMountSource",
        `mount source ${JSON.stringify(source)} is relative but does not start with local/, secrets/ or alloc/; ` +
          `use an absolute host path or a path inside the task's local/, secrets/ or alloc/ directory`
      )
    )
  }
  const resolved = posix.join(posix.dirname(within), withoutDot)
  if (!isInside(resolved, within)) {
    return Either.left(
      specError(
        "MountSourceEscapes",
        `mount source ${JSON.stringify(source)} leaves the task's ${first}/ directory; ` +
          `relative sources must stay inside local/, secrets/ or alloc/`
      )
    )
  }
  return Either.right({ source: resolved, within })
}

const isInside = (candidate: string, dir: string): boolean => candidate === dir || candidate.startsWith(`${dir}/`)

/**
 * The symlink check, when the caller supplied realpath results: the real path of a relative source must be
 * inside the real path of its directory.
 */
const checkRealpath = (
  original: string,
  resolved: ResolvedSource,
  realpaths: HostFacts["realpaths"]
): Either.Either<ResolvedSource, SpecError> => {
  if (resolved.within === undefined || realpaths === undefined) return Either.right(resolved)
  const real = realpaths[resolved.source]
  if (real === undefined) return Either.right(resolved)
  const realDir = realpaths[resolved.within] ?? resolved.within
  return isInside(real, realDir)
    ? Either.right(resolved)
    : Either.left(
      specError(
        "MountSourceEscapes",
        `mount source ${JSON.stringify(original)} is a symbolic link to ${real}, outside the task directory; ` +
          `relative sources must stay inside local/, secrets/ or alloc/`
      )
    )
}

const bindTypes = new Set(["bind", "volume"])
/** The types the `mounts` option documents; anything else (nfs, proc, ...) is refused rather than passed to runc. */
export const supportedMountTypes: ReadonlyArray<string> = ["bind", "volume", "tmpfs"]
const bindFlags = new Set(["bind", "rbind"])

/**
 * runc bind-mounts any mount carrying a bind flag, whatever its type says, so such a mount gets
 * the same source resolution and escape checks as a bind.
 */
export const isBindMount = (m: { readonly type: string; readonly options: ReadonlyArray<string> }): boolean =>
  m.type === "" || bindTypes.has(m.type) || m.options.some((o) => bindFlags.has(o))

/**
 * The task's `mounts` entries. bind and volume need options (the original's message) and a source; `volume` is
 * a bind mount and is emitted as type "bind" (runc only ever bind-mounted it; other runtimes reject "volume"),
 * and "rbind" is added when the options name neither bind nor rbind. tmpfs passes through; other types are refused.
 */
export const taskMounts = (
  task: Pick<TaskConfig, "mounts">,
  nomad: Pick<NomadTask, "alloc_dir" | "name">,
  reservedTargets: ReadonlyArray<string>,
  realpaths: HostFacts["realpaths"]
): Either.Either<ReadonlyArray<Mount>, SpecError> =>
  Either.all(
    task.mounts.map((m): Either.Either<Mount, SpecError> => {
      const type = m.type === "" ? "volume" : m.type
      if (!supportedMountTypes.includes(type)) {
        return Either.left(
          specError(
            "InvalidMount",
            `mount with target ${JSON.stringify(m.target)} has type ${JSON.stringify(type)}; the mounts option takes ` +
              `"bind", "volume" (a bind mount) or "tmpfs": mount other filesystems on the host and bind them, ` +
              `or use a Nomad volume`
          )
        )
      }
      if (!posix.isAbsolute(m.target)) {
        return Either.left(
          specError("InvalidMount", `mount target ${JSON.stringify(m.target)} must be an absolute path inside the container`)
        )
      }
      const destination = cleanDestination(m.target)
      if (destination === "/") {
        return Either.left(specError("InvalidMount", "mount target / would hide the container's root filesystem; choose another target"))
      }
      if (reservedTargets.includes(destination)) {
        return Either.left(
          specError(
            "InvalidMount",
            `mount target ${destination} is where Nomad mounts the task directory ${destination}; choose another target`
          )
        )
      }
      if (!isBindMount(m)) {
        return Either.right({
          destination,
          type,
          ...(m.source !== undefined && m.source !== "" ? { source: m.source } : type === "tmpfs" ? { source: "tmpfs" } : {}),
          ...(m.options.length > 0 ? { options: m.options } : {})
        })
      }
      if (m.options.length === 0) {
        return Either.left(
          specError(
            "InvalidMount",
            `Options cannot be empty for mount type: ${type}. You need to atleast pass rbind and ro.`
          )
        )
      }
      if (m.source === undefined || m.source === "") {
        return Either.left(
          specError("InvalidMount", `mount with target ${destination}: a ${type} mount needs a source (a host path)`)
        )
      }
      const original = m.source
      return Either.map(
        Either.flatMap(resolveMountSource(original, nomad), (r) => checkRealpath(original, r, realpaths)),
        (resolved): Mount => ({
          destination,
          type: "bind",
          source: resolved.source,
          options: m.options.some((o) => bindFlags.has(o)) ? m.options : ["rbind", ...m.options]
        })
      )
    })
  )

const propagationOption: Readonly<Record<string, string | undefined>> = {
  "": undefined,
  private: "rprivate",
  "host-to-task": "rslave",
  bidirectional: "rshared"
}

/** Nomad's `volume_mount`s (host and CSI volumes): `rbind`, `ro` when read-only, and the propagation mode. */
export const nomadVolumeMounts = (mounts: ReadonlyArray<NomadMount>): Either.Either<ReadonlyArray<Mount>, SpecError> =>
  Either.all(
    mounts.map((m): Either.Either<Mount, SpecError> => {
      if (!(m.propagation_mode in propagationOption)) {
        return Either.left(
          specError(
            "InvalidPropagation",
            `volume mount at ${m.task_path} has propagation_mode ${JSON.stringify(m.propagation_mode)}; ` +
              `expected "private", "host-to-task" or "bidirectional"`
          )
        )
      }
      const propagation = propagationOption[m.propagation_mode]
      return Either.right({
        destination: cleanDestination(posix.isAbsolute(m.task_path) ? m.task_path : `/${m.task_path}`),
        type: "bind",
        source: m.host_path,
        options: ["rbind", ...(m.readonly ? ["ro"] : []), ...(propagation !== undefined ? [propagation] : [])]
      })
    })
  )

/** secrets, local, alloc (the original's order), read-write binds. */
export const taskDirectoryMounts = (nomad: Pick<NomadTask, "alloc_dir" | "name" | "env">): ReadonlyArray<Mount> => {
  const dirs = taskDirectories(nomad)
  const targets = taskDirectoryTargets(nomad.env)
  return [
    { destination: cleanDestination(targets.secrets), type: "bind", source: dirs.secrets, options: ["rbind", "rw"] },
    { destination: cleanDestination(targets.local), type: "bind", source: dirs.local, options: ["rbind", "rw"] },
    { destination: cleanDestination(targets.alloc), type: "bind", source: dirs.alloc, options: ["rbind", "rw"] }
  ]
}

/** Adds `additions` to `mounts`: same cleaned destination → replaced in place, otherwise appended. */
export const mergeMounts = (mounts: ReadonlyArray<Mount>, additions: ReadonlyArray<Mount>): ReadonlyArray<Mount> => {
  const result = [...mounts]
  for (const mount of additions) {
    const destination = cleanDestination(mount.destination)
    const at = result.findIndex((m) => cleanDestination(m.destination) === destination)
    if (at >= 0) result[at] = mount
    else result.push(mount)
  }
  return result
}

const depth = (destination: string): number => cleanDestination(destination).split("/").filter((s) => s !== "").length

/** Keeps the first `keep` mounts in place and orders the rest parents-first (stable). */
export const parentsFirst = (mounts: ReadonlyArray<Mount>, keep: number): ReadonlyArray<Mount> => [
  ...mounts.slice(0, keep),
  ...mounts
    .slice(keep)
    .map((mount, index) => ({ mount, index }))
    .sort((a, b) => depth(a.mount.destination) - depth(b.mount.destination) || a.index - b.index)
    .map(({ mount }) => mount)
]

const sharedOptions = new Set(["shared", "rshared"])
const slaveOptions = new Set(["slave", "rslave"])

/**
 * dockerd's rule: a shared (bidirectional) mount needs the container's root to be shared, a slave mount needs
 * it at least rslave; undefined when no mount asks for propagation (runc's default, rslave, applies).
 */
export const rootfsPropagationFor = (mounts: ReadonlyArray<Mount>): string | undefined => {
  const options = mounts.flatMap((m) => m.options ?? [])
  if (options.some((o) => sharedOptions.has(o))) return "shared"
  if (options.some((o) => slaveOptions.has(o))) return "rslave"
  return undefined
}
