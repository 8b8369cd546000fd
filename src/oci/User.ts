/**
 * Resolves the process user the way containerd's WithUser + WithAdditionalGIDs do (containerd/containerd
 * oci/spec_opts.go), from the image's /etc/passwd and /etc/group contents instead of a mounted rootfs:
 * - `uid` → the passwd entry's gid if the uid is listed, else gid 0;
 * - `name` → must be in /etc/passwd;
 * - `user:group` with either side numeric or a name (names must exist in passwd / group);
 * - supplementary groups: every /etc/group entry listing the user's name as a member (except a group named like
 *   the user), with the primary gid first.
 * Unlike the Go driver (whose WithUser for the task `user` dropped supplementary groups), the task user gets its
 * group memberships exactly as the image USER does.
 */
import { Either } from "effect"
import type { User } from "./RuntimeSpec.js"
import { type SpecError, specError } from "./SpecError.js"

interface PasswdEntry {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

interface GroupEntry {
  readonly name: string
  readonly gid: number
  readonly members: ReadonlyArray<string>
}

/** colon-separated lines; blank and `#` lines skipped; unparsable numbers read as 0 (as moby/sys/user does). */
const lines = (content: string): ReadonlyArray<ReadonlyArray<string>> =>
  content
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"))

const toId = (field: string | undefined): number => (field !== undefined && isNumeric(field) ? Number(field) : 0)

export const parsePasswd = (content: string): ReadonlyArray<PasswdEntry> =>
  lines(content).map((f) => ({ name: f[0] ?? "", uid: toId(f[2]), gid: toId(f[3]) }))

export const parseGroup = (content: string): ReadonlyArray<GroupEntry> =>
  lines(content).map((f) => ({
    name: f[0] ?? "",
    gid: toId(f[2]),
    members: (f[3] ?? "").split(",").map((m) => m.trim()).filter((m) => m !== "")
  }))

const isNumeric = (s: string): boolean => /^\d+$/.test(s) && Number(s) <= 0xffffffff

export interface AccountFiles {
  readonly passwd?: string | undefined
  readonly group?: string | undefined
}

/**
 * The spec user for `userstr` (task `user`, else image USER; undefined or "" means root). `source` names where
 * the string came from, for messages: e.g. "task user" or "image USER".
 */
export const resolveUser = (
  userstr: string | undefined,
  files: AccountFiles,
  source: string
): Either.Either<User, SpecError> => {
  const passwd = files.passwd === undefined ? undefined : parsePasswd(files.passwd)
  const group = files.group === undefined ? undefined : parseGroup(files.group)
  const primary = userstr === undefined || userstr === ""
    ? Either.right({ uid: 0, gid: 0, name: "root" as string | undefined })
    : primaryIds(userstr, passwd, group, source)
  return Either.map(primary, ({ uid, gid, name }) => {
    const supplementary = name === undefined || group === undefined
      ? []
      : group.filter((g) => g.name !== name && g.members.includes(name)).map((g) => g.gid)
    const additionalGids = supplementary.includes(gid) ? supplementary : [gid, ...supplementary]
    return { uid, gid, additionalGids }
  })
}

/** uid, gid and the user name whose group memberships count (looked up by uid, as WithAdditionalGIDs does). */
const primaryIds = (
  userstr: string,
  passwd: ReadonlyArray<PasswdEntry> | undefined,
  group: ReadonlyArray<GroupEntry> | undefined,
  source: string
): Either.Either<{ uid: number; gid: number; name: string | undefined }, SpecError> => {
  const nameOf = (uid: number) => passwd?.find((p) => p.uid === uid)?.name
  const unknownUser = (name: string) =>
    specError(
      "UnknownUser",
      `${source} ${JSON.stringify(userstr)}: no user ${JSON.stringify(name)} in the image's /etc/passwd` +
        `${passwd === undefined ? " (the image has no /etc/passwd)" : ""}; use a numeric uid or a user the image defines`
    )
  const parts = userstr.split(":")
  if (parts.length === 1) {
    const only = parts[0]!
    if (isNumeric(only)) {
      const uid = Number(only)
      const entry = passwd?.find((p) => p.uid === uid)
      return Either.right({ uid, gid: entry?.gid ?? 0, name: entry?.name })
    }
    const entry = passwd?.find((p) => p.name === only)
    return entry === undefined
      ? Either.left(unknownUser(only))
      : Either.right({ uid: entry.uid, gid: entry.gid, name: entry.name })
  }
  if (parts.length === 2) {
    const [userPart, groupPart] = parts as [string, string]
    if (userPart === "" || groupPart === "") return Either.left(invalidUser(userstr, source))
    let uid: number
    if (isNumeric(userPart)) {
      uid = Number(userPart)
    } else {
      const entry = passwd?.find((p) => p.name === userPart)
      if (entry === undefined) return Either.left(unknownUser(userPart))
      uid = entry.uid
    }
    let gid: number
    if (isNumeric(groupPart)) {
      gid = Number(groupPart)
    } else {
      const entry = group?.find((g) => g.name === groupPart)
      if (entry === undefined) {
        return Either.left(
          specError(
            "UnknownGroup",
            `${source} ${JSON.stringify(userstr)}: no group ${JSON.stringify(groupPart)} in the image's /etc/group` +
              `${group === undefined ? " (the image has no /etc/group)" : ""}; use a numeric gid or a group the image defines`
          )
        )
      }
      gid = entry.gid
    }
    return Either.right({ uid, gid, name: nameOf(uid) })
  }
  return Either.left(invalidUser(userstr, source))
}

const invalidUser = (userstr: string, source: string) =>
  specError(
    "InvalidUser",
    `invalid ${source} ${JSON.stringify(userstr)}: expected user, uid, user:group, uid:gid, user:gid or uid:group`
  )
