/**
 * Capability sets: containerd's default set, name normalisation for `cap_add`/`cap_drop`, and the rule that
 * combines them with `privileged` and the capabilities the driver process actually holds.
 */
import { Either } from "effect"
import { type SpecError, specError } from "./SpecError.js"

/** Every capability name, in kernel bit order (bit 0 = CAP_CHOWN … bit 40 = CAP_CHECKPOINT_RESTORE). */
export const knownCapabilities: ReadonlyArray<string> = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"
]

const bitOf = new Map(knownCapabilities.map((name, bit) => [name, bit]))

/** containerd's default set (the same 14 as Docker), in containerd's order. */
export const defaultCapabilities: ReadonlyArray<string> = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE"
]

/** A normalised `cap_add`/`cap_drop` entry: a CAP_* name, or ALL. */
export type CapabilityName = string | "ALL"

/** `sys_admin`, `SYS_ADMIN`, `cap_sys_admin` → `CAP_SYS_ADMIN`; `all` → `ALL`; anything else is an error. */
export const normaliseCapability = (
  raw: string,
  option: "cap_add" | "cap_drop"
): Either.Either<CapabilityName, SpecError> => {
  const upper = raw.trim().toUpperCase()
  if (upper === "ALL") return Either.right("ALL")
  const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`
  return bitOf.has(name)
    ? Either.right(name)
    : Either.left(
      specError(
        "UnknownCapability",
        `unknown capability ${JSON.stringify(raw)} in ${option}: use a Linux capability name as listed in ` +
          `capabilities(7), e.g. "CAP_NET_ADMIN" or "net_admin" (the CAP_ prefix and case are optional), or "ALL"`
      )
    )
}

/** Capability names in kernel bit order; names this table does not know keep their place at the end. */
export const inBitOrder = (caps: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(caps)].sort((a, b) => (bitOf.get(a) ?? Infinity) - (bitOf.get(b) ?? Infinity))

export interface CapabilityRequest {
  /** The set before cap_add/cap_drop: containerd's default, or every host capability for a privileged task. */
  readonly base: ReadonlyArray<string>
  /** The driver process's effective capabilities. */
  readonly host: ReadonlyArray<string>
  readonly add: ReadonlyArray<string>
  readonly drop: ReadonlyArray<string>
}

/**
 * The final bounding/effective/permitted set:
 * 1. start from `base` (containerd's default set, or every host capability when privileged);
 * 2. `cap_add = ["ALL"]` → every host capability; `cap_drop = ["ALL"]` → nothing (drop ALL applies after add ALL);
 * 3. add the named `cap_add` entries (appended in the order given), each of which the host must hold;
 * 4. remove the named `cap_drop` entries — so a name in both lists is dropped: cap_drop always wins.
 */
export const resolveCapabilities = (
  request: CapabilityRequest
): Either.Either<ReadonlyArray<string>, SpecError> =>
  Either.gen(function*() {
    const add = yield* Either.all(request.add.map((c) => normaliseCapability(c, "cap_add")))
    const drop = yield* Either.all(request.drop.map((c) => normaliseCapability(c, "cap_drop")))
    const host = inBitOrder(request.host)
    const hostSet = new Set(host)
    const missing = add.filter((c) => c !== "ALL" && !hostSet.has(c))
    if (missing.length > 0) {
      return yield* Either.left(
        specError(
          "CapabilityNotAvailable",
          `cap_add asks for ${missing.join(", ")}, which the driver process does not have, so no container on ` +
            `this node can get ${missing.length === 1 ? "it" : "them"}; remove ${missing.length === 1 ? "it" : "them"} ` +
            `from cap_add or run the Nomad client with ${missing.length === 1 ? "that capability" : "those capabilities"}`
        )
      )
    }
    let caps: ReadonlyArray<string> = request.base
    if (add.includes("ALL")) caps = host
    if (drop.includes("ALL")) caps = []
    const result = [...caps]
    for (const c of add) if (c !== "ALL" && !result.includes(c)) result.push(c)
    const dropped = new Set(drop)
    return result.filter((c) => !dropped.has(c))
  })
