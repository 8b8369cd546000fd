/**
 * Registry credentials, pure part: the credential values, the precedence of the driver's sources, Docker
 * `config.json` decoding and lookup, and docker-credential-helper output parsing.
 *
 * Secrets are only ever held as `Redacted` values and never appear in error messages.
 */
import { createHash } from "node:crypto"
import { Data, Either, Option, Redacted } from "effect"

/** A username/password pair as written in an `auth { username password }` block. */
export interface UserPassword {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/** What can be presented to a registry or its token service. */
export type Credential =
  | { readonly _tag: "Basic"; readonly username: string; readonly password: Redacted.Redacted<string> }
  /** An OAuth2 refresh token (`identitytoken` in config.json, or a helper answering with username `<token>`). */
  | { readonly _tag: "IdentityToken"; readonly token: Redacted.Redacted<string> }

export const basic = (username: string, password: Redacted.Redacted<string>): Credential => ({
  _tag: "Basic",
  username,
  password
})

export const identityToken = (token: Redacted.Redacted<string>): Credential => ({ _tag: "IdentityToken", token })

export type CredentialsErrorReason = "ConfigUnreadable" | "ConfigInvalid" | "HelperInvalid" | "HelperFailed"

export class CredentialsError extends Data.TaggedError("CredentialsError")<{
  readonly reason: CredentialsErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

const isComplete = (auth: UserPassword | undefined): auth is UserPassword =>
  auth !== undefined && auth.username !== "" && Redacted.value(auth.password) !== ""

/**
 * The static `auth` blocks, as the original driver combined them: the driver-level pair if both fields are set,
 * overridden by the task-level pair if both of its fields are set. Offered to whichever registry asks.
 */
export const staticCredential = (
  taskAuth: UserPassword | undefined,
  driverAuth: UserPassword | undefined
): Option.Option<Credential> => {
  if (isComplete(taskAuth)) return Option.some(basic(taskAuth.username, taskAuth.password))
  if (isComplete(driverAuth)) return Option.some(basic(driverAuth.username, driverAuth.password))
  return Option.none()
}

// --- Docker config.json ------------------------------------------------------------------------------------

/** The Docker Hub key in config.json and the server URL credential helpers are asked about for Docker Hub. */
export const DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"

const dockerHubHostnames = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"])

/** The server address Docker uses for a registry domain: the Hub URL for docker.io, else `host[:port]`. */
export const serverAddress = (domain: string): string =>
  dockerHubHostnames.has(domain) ? DOCKER_HUB_SERVER_URL : domain

/** Docker's `ConvertToHostname`: `https://host:port/v1/` → `host:port`. */
export const hostnameOfKey = (key: string): string => {
  const withoutScheme = key.replace(/^https?:\/\//i, "")
  const slash = withoutScheme.indexOf("/")
  return (slash >= 0 ? withoutScheme.slice(0, slash) : withoutScheme).toLowerCase()
}

const keyMatches = (key: string, domain: string): boolean => {
  const host = hostnameOfKey(key)
  const wanted = domain.toLowerCase()
  return host === wanted || (dockerHubHostnames.has(host) && dockerHubHostnames.has(wanted))
}

export interface DockerAuthEntry {
  readonly auth?: string
  readonly username?: string
  readonly password?: Redacted.Redacted<string>
  readonly identityToken?: Redacted.Redacted<string>
}

export interface DockerConfig {
  readonly auths: ReadonlyArray<readonly [key: string, entry: DockerAuthEntry]>
  readonly credHelpers: ReadonlyArray<readonly [key: string, helper: string]>
  readonly credsStore?: string
}

const stringField = (record: Record<string, unknown>, key: string): string | undefined => {
  const value = record[key]
  return typeof value === "string" && value !== "" ? value : undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Decodes a Docker config.json. Unknown fields are ignored; a malformed document is an error naming the file. */
export const parseDockerConfig = (text: string, path: string): Either.Either<DockerConfig, CredentialsError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left(
      new CredentialsError({
        reason: "ConfigInvalid",
        message: `Docker config ${path} is not valid JSON`,
        cause: cause instanceof Error ? cause.message : undefined
      })
    )
  }
  if (!isRecord(json)) {
    return Either.left(
      new CredentialsError({ reason: "ConfigInvalid", message: `Docker config ${path} is not a JSON object` })
    )
  }
  const auths: Array<readonly [string, DockerAuthEntry]> = []
  const rawAuths = json["auths"]
  if (isRecord(rawAuths)) {
    for (const [key, value] of Object.entries(rawAuths)) {
      if (!isRecord(value)) continue
      const auth = stringField(value, "auth")
      const username = stringField(value, "username")
      const password = stringField(value, "password")
      const token = stringField(value, "identitytoken")
      auths.push([key, {
        ...(auth !== undefined ? { auth } : {}),
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password: Redacted.make(password) } : {}),
        ...(token !== undefined ? { identityToken: Redacted.make(token) } : {})
      }])
    }
  }
  const credHelpers: Array<readonly [string, string]> = []
  const rawHelpers = json["credHelpers"]
  if (isRecord(rawHelpers)) {
    for (const [key, value] of Object.entries(rawHelpers)) {
      if (typeof value === "string" && value !== "") credHelpers.push([key, value])
    }
  }
  const credsStore = stringField(json, "credsStore")
  return Either.right({ auths, credHelpers, ...(credsStore !== undefined ? { credsStore } : {}) })
}

/** Decodes one `auths` entry into a credential: identity token first, then `auth` (base64 user:pass), then fields. */
export const entryCredential = (
  entry: DockerAuthEntry,
  key: string,
  path: string
): Either.Either<Option.Option<Credential>, CredentialsError> => {
  if (entry.identityToken !== undefined) return Either.right(Option.some(identityToken(entry.identityToken)))
  if (entry.auth !== undefined) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon <= 0) {
      return Either.left(
        new CredentialsError({
          reason: "ConfigInvalid",
          message: `Docker config ${path}: the "auth" field for ${key} is not base64 of "username:password"`
        })
      )
    }
    return Either.right(Option.some(basic(decoded.slice(0, colon), Redacted.make(decoded.slice(colon + 1)))))
  }
  if (entry.username !== undefined && entry.password !== undefined) {
    return Either.right(Option.some(basic(entry.username, entry.password)))
  }
  return Either.right(Option.none())
}

/** Where config.json says credentials for a domain come from, in the order Docker consults them. */
export type DockerConfigSource =
  | { readonly _tag: "Helper"; readonly helper: string }
  | { readonly _tag: "Entry"; readonly key: string; readonly entry: DockerAuthEntry }

const findByDomain = <A>(
  entries: ReadonlyArray<readonly [string, A]>,
  domain: string
): readonly [string, A] | undefined => {
  const exact = entries.find(([key]) => key === domain || key === serverAddress(domain))
  return exact ?? entries.find(([key]) => keyMatches(key, domain))
}

/** `credHelpers[domain]`, then `credsStore`, then the `auths` entry for the domain. */
export const dockerConfigSources = (config: DockerConfig, domain: string): ReadonlyArray<DockerConfigSource> => {
  const sources: Array<DockerConfigSource> = []
  const helper = findByDomain(config.credHelpers, domain)
  if (helper !== undefined) sources.push({ _tag: "Helper", helper: helper[1] })
  if (config.credsStore !== undefined) sources.push({ _tag: "Helper", helper: config.credsStore })
  const entry = findByDomain(config.auths, domain)
  if (entry !== undefined) sources.push({ _tag: "Entry", key: entry[0], entry: entry[1] })
  return sources
}

// --- credential helpers ------------------------------------------------------------------------------------

const helperNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** The executable for a helper name; names that could escape PATH lookup (`../x`, `/bin/sh`) are refused. */
export const helperExecutable = (helper: string): Either.Either<string, CredentialsError> =>
  helperNamePattern.test(helper) ?
    Either.right(`docker-credential-${helper}`) :
    Either.left(
      new CredentialsError({
        reason: "HelperInvalid",
        message: `invalid credential helper name ${JSON.stringify(helper)}: expected the suffix of ` +
          `docker-credential-<name>, e.g. "ecr-login"`
      })
    )

/** What helpers print (exit 1) when they hold nothing for the server: not an error, just no credential. */
export const isHelperNotFound = (output: string): boolean => /credentials not found/i.test(output)

/** Parses a helper's `get` output `{"ServerURL","Username","Secret"}`; username `<token>` marks an identity token. */
export const parseHelperOutput = (
  stdout: string,
  helper: string
): Either.Either<Option.Option<Credential>, CredentialsError> => {
  let json: unknown
  try {
    json = JSON.parse(stdout)
  } catch {
    return Either.left(
      new CredentialsError({
        reason: "HelperFailed",
        message: `docker-credential-${helper} printed something that is not JSON`
      })
    )
  }
  if (!isRecord(json)) {
    return Either.left(
      new CredentialsError({ reason: "HelperFailed", message: `docker-credential-${helper} printed no JSON object` })
    )
  }
  const username = typeof json["Username"] === "string" ? json["Username"] : ""
  const secret = typeof json["Secret"] === "string" ? json["Secret"] : ""
  if (secret === "") return Either.right(Option.none())
  if (username === "<token>") return Either.right(Option.some(identityToken(Redacted.make(secret))))
  return Either.right(Option.some(basic(username, Redacted.make(secret))))
}

/**
 * A stable, non-reversible key for a credential, so cached registry tokens are never shared between different
 * credentials (one task's private token must not serve another task's pull).
 */
export const fingerprint = (credential: Credential): string => {
  const material = credential._tag === "Basic" ?
    `basic\0${credential.username}\0${Redacted.value(credential.password)}` :
    `token\0${Redacted.value(credential.token)}`
  return createHash("sha256").update(material).digest("hex").slice(0, 32)
}
