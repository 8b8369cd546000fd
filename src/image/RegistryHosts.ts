/**
 * Which hosts serve a registry namespace, as containerd's `hosts.toml` files describe them (containerd's
 * docs/hosts.md and core/remotes/docker/config/hosts.go): the directory looked up for a reference domain, the
 * decoding of `hosts.toml` (mirrors in file order, then `server`), Docker's legacy certificate files, and the
 * default server when nothing is configured (Docker Hub's API host, plain HTTP for loopback and
 * `insecure_registries`, HTTPS otherwise). Also the URLs of the registry API on a host.
 *
 * Pure: the files are read by layers/registry/hostsDir.ts; paths here are only joined, never opened.
 */
import * as path from "node:path"
import { Either } from "effect"
import { parse as parseToml, TomlError } from "smol-toml"
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY_HOST } from "./Reference.js"
import { isListedInsecure, isLoopback, isRecoverable, RegistryError, TEMPORARY_HINT } from "./RegistryProtocol.js"

export type Capability = "pull" | "resolve" | "push"

const ALL_CAPABILITIES: ReadonlyArray<Capability> = ["pull", "resolve", "push"]

/** TLS settings of one host; file paths are absolute. */
export interface TlsSettings {
  /** PEM files trusted in addition to the system's CAs. */
  readonly caFiles: ReadonlyArray<string>
  /** Client certificate and key files; a missing key means the certificate file holds the key too. */
  readonly clientPairs: ReadonlyArray<{ readonly cert: string; readonly key: string | undefined }>
  /** `skip_verify = true`: the host's certificate chain and name are not checked. */
  readonly skipVerify: boolean
}

export const NO_TLS_SETTINGS: TlsSettings = { caFiles: [], clientPairs: [], skipVerify: false }

const hasTlsSettings = (tls: TlsSettings): boolean =>
  tls.caFiles.length > 0 || tls.clientPairs.length > 0 || tls.skipVerify

export interface RegistryHost {
  readonly scheme: "http" | "https"
  /** `host[:port]` as in a URL (IPv6 in brackets). */
  readonly host: string
  /** API root on the host, e.g. `/v2` (or what `override_path` says; may be empty). */
  readonly path: string
  readonly capabilities: ReadonlyArray<Capability>
  readonly tls: TlsSettings
  /** Extra request headers (`[header]`), sent only to this host. */
  readonly headers: ReadonlyArray<readonly [name: string, values: ReadonlyArray<string>]>
  /** `mirror`: a `[host."…"]` entry, tried first in file order; `server`: the namespace's own server, tried last. */
  readonly role: "mirror" | "server"
  /**
   * The name credentials are looked up under (config.json, helpers): the reference domain for the default server
   * (so `docker.io` finds Docker Hub's entry), else the host itself.
   */
  readonly credentialKey: string
  /**
   * Whether the `auth` blocks (task and driver) may be offered to this host: they are meant for the image's
   * registry, i.e. the namespace's server, never for a mirror.
   */
  readonly staticAuth: boolean
}

/** Where the hosts of a namespace came from, for messages and `doctor`. */
export type HostsSource =
  | { readonly _tag: "Default" }
  | { readonly _tag: "HostsFile"; readonly file: string }
  | { readonly _tag: "CertificateFiles"; readonly dir: string }

export interface NamespaceHosts {
  readonly domain: string
  readonly source: HostsSource
  /** In the order they are tried; the server is last. */
  readonly hosts: ReadonlyArray<RegistryHost>
  /** Keys of the file this driver does not act on (for `doctor`). */
  readonly ignored: ReadonlyArray<string>
}

export const baseUrlOf = (host: RegistryHost): string => `${host.scheme}://${host.host}${host.path}`

/** `hosts.toml` keys this driver reads; the other keys containerd knows are reported as ignored. */
const HOST_KEYS = new Set(["capabilities", "ca", "client", "skip_verify", "header", "override_path"])

// --- the directory of a domain -----------------------------------------------------------------------------

/** `host:port` → `host_port_` (the spelling that works where `:` cannot be in a file name). */
const portDirectory = (domain: string): string => {
  const colon = domain.lastIndexOf(":")
  return colon > 0 ? `${domain.slice(0, colon)}_${domain.slice(colon + 1)}_` : domain
}

/** The directories under the hosts dir that may configure `domain`, in the order containerd looks: the first that exists is used. */
export const hostDirectories = (domain: string): ReadonlyArray<string> => {
  const ported = portDirectory(domain)
  return [...(ported !== domain ? [ported] : []), domain, "_default"]
}

/** The `hosts.toml` an operator would write for `domain`, for messages that say where to put a setting. */
export const hostsFileFor = (hostsDir: string, domain: string): string => path.join(hostsDir, domain, "hosts.toml")

// --- decoding hosts.toml -----------------------------------------------------------------------------------

export interface HostEntry {
  /** As written: `https://mirror.example`, `mirror.example:5000` (HTTPS), or undefined for the server's defaults. */
  readonly url: URL | undefined
  readonly overridePath: boolean
  readonly capabilities: ReadonlyArray<Capability>
  readonly tls: TlsSettings
  readonly headers: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
}

export interface HostsDocument {
  readonly mirrors: ReadonlyArray<HostEntry>
  /** The root level: `server` (if set) with the settings written beside it. */
  readonly server: HostEntry
  readonly ignored: ReadonlyArray<string>
}

type Table = Record<string, unknown>

const isTable = (value: unknown): value is Table =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/** A TOML value's type as the user wrote it: smol-toml gives numbers, booleans and dates (a Date) besides these. */
const typeName = (value: unknown): string =>
  Array.isArray(value) ? "an array"
  : isTable(value) ? "a table"
  : value instanceof Date ? "a date"
  : typeof value === "string" ? "a string"
  : typeof value === "boolean" ? "a boolean"
  : "a number"

class Invalid {
  constructor(readonly message: string) {}
}

const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** What Node sends in a header value: no control characters but tab. */
const headerValuePattern = /^[\t\x20-\x7e\x80-\xff]*$/

const stringList = (value: unknown, where: string): ReadonlyArray<string> => {
  if (typeof value === "string") return [value]
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value as ReadonlyArray<string>
  throw new Invalid(`${where} must be a string or an array of strings, not ${typeName(value)}`)
}

const absolute = (file: string, baseDir: string): string => (path.isAbsolute(file) ? file : path.join(baseDir, file))

const decodeCapabilities = (value: unknown, where: string): ReadonlyArray<Capability> => {
  if (value === undefined) return ALL_CAPABILITIES
  const names = stringList(value, where)
  if (names.length === 0) return ALL_CAPABILITIES
  return names.map((name) => {
    const lower = name.toLowerCase()
    if (lower === "pull" || lower === "resolve" || lower === "push") return lower
    throw new Invalid(`${where}: unknown capability ${JSON.stringify(name)} (use "pull", "resolve" or "push")`)
  })
}

const decodeClient = (value: unknown, where: string, baseDir: string): TlsSettings["clientPairs"] => {
  if (value === undefined) return []
  if (typeof value === "string") return [{ cert: absolute(value, baseDir), key: undefined }]
  if (!Array.isArray(value)) {
    throw new Invalid(`${where} must be a file, an array of files or an array of [certificate, key] pairs, not ${typeName(value)}`)
  }
  return value.map((item) => {
    if (typeof item === "string") return { cert: absolute(item, baseDir), key: undefined }
    if (Array.isArray(item) && item.length === 2 && item.every((file) => typeof file === "string")) {
      const [cert, key] = item as [string, string]
      return { cert: absolute(cert, baseDir), key: key === "" ? undefined : absolute(key, baseDir) }
    }
    throw new Invalid(`${where}: each entry must be a file or a [certificate, key] pair of files`)
  })
}

const decodeHeaders = (value: unknown, where: string): HostEntry["headers"] => {
  if (value === undefined) return []
  if (!isTable(value)) throw new Invalid(`${where} must be a table of header names, not ${typeName(value)}`)
  return Object.entries(value).map(([name, values]) => {
    if (!headerNamePattern.test(name)) throw new Invalid(`${where}: ${JSON.stringify(name)} is not a valid HTTP header name`)
    const list = stringList(values, `${where}.${name}`)
    for (const item of list) {
      if (!headerValuePattern.test(item)) {
        throw new Invalid(`${where}.${name}: a header value cannot hold control characters such as CR or LF`)
      }
    }
    return [name.toLowerCase(), list] as const
  })
}

const decodeBool = (value: unknown, where: string): boolean | undefined => {
  if (value === undefined || typeof value === "boolean") return value
  throw new Invalid(`${where} must be true or false, not ${typeName(value)}`)
}

/** A host written in hosts.toml: a scheme-less host means HTTPS (as containerd reads it). */
const decodeHostUrl = (written: string, where: string): URL => {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(written)?.[1]?.toLowerCase()
  if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
    throw new Invalid(`${where}: ${JSON.stringify(written)} is not an http:// or https:// URL`)
  }
  const withScheme = scheme === undefined ? `https://${written}` : written
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new Invalid(`${where}: ${JSON.stringify(written)} is not a URL such as "https://mirror.example.com"`)
  }
  if (url.hostname === "") throw new Invalid(`${where}: ${JSON.stringify(written)} names no host`)
  if (url.username !== "" || url.password !== "") {
    throw new Invalid(`${where}: ${JSON.stringify(written.replace(/\/\/[^@/]*@/, "//…@"))} holds credentials; credentials belong in an auth block, config.json or a credential helper`)
  }
  if (url.search !== "" || url.hash !== "") throw new Invalid(`${where}: ${JSON.stringify(written)} may not have a query or a fragment`)
  return url
}

const decodeEntry = (table: Table, url: URL | undefined, where: string, baseDir: string, ignored: Array<string>): HostEntry => {
  const at = (key: string) => (where === "" ? key : `${where}.${key}`)
  for (const key of Object.keys(table)) {
    if (!HOST_KEYS.has(key) && !(where === "" && (key === "server" || key === "host"))) ignored.push(at(key))
  }
  const skipVerify = decodeBool(table["skip_verify"], at("skip_verify"))
  const overridePath = decodeBool(table["override_path"], at("override_path")) ?? false
  const ca = table["ca"] === undefined ? [] : stringList(table["ca"], at("ca")).map((file) => absolute(file, baseDir))
  return {
    url,
    overridePath,
    capabilities: decodeCapabilities(table["capabilities"], at("capabilities")),
    tls: { caFiles: ca, clientPairs: decodeClient(table["client"], at("client"), baseDir), skipVerify: skipVerify ?? false },
    headers: decodeHeaders(table["header"], at("header"))
  }
}

/**
 * Decodes a `hosts.toml` (its text, and the directory relative paths are taken from). A file that says something
 * this driver would have to guess about is refused, naming the key: containerd logs such a file and falls back to
 * the certificate files, which would pull from somewhere the operator did not mean.
 */
export const parseHostsToml = (text: string, baseDir: string): Either.Either<HostsDocument, string> => {
  let document: Table
  try {
    document = parseToml(text) as Table
  } catch (error) {
    if (!(error instanceof TomlError)) return Either.left(String(error))
    const reason = (error.message.split("\n")[0] ?? error.message).replace(/^Invalid TOML document: /, "")
    return Either.left(`not valid TOML: ${reason} (line ${error.line}, column ${error.column})`)
  }
  try {
    const ignored: Array<string> = []
    const server = document["server"]
    if (server !== undefined && typeof server !== "string") throw new Invalid(`server must be a string, not ${typeName(server)}`)
    const hosts = document["host"]
    if (hosts !== undefined && !isTable(hosts)) throw new Invalid(`host must be a table of [host."https://…"] entries`)
    // Object keys keep the file's order (host keys are URLs, never array-index-like strings).
    const mirrors = Object.entries(hosts ?? {}).map(([written, entry]) => {
      const where = `host.${JSON.stringify(written)}`
      if (!isTable(entry)) throw new Invalid(`${where} must be a table`)
      return decodeEntry(entry, decodeHostUrl(written, where), where, baseDir, ignored)
    })
    const root = decodeEntry(document, server === undefined || server === "" ? undefined : decodeHostUrl(server, "server"), "", baseDir, ignored)
    return Either.right({ mirrors, server: root, ignored })
  } catch (error) {
    if (error instanceof Invalid) return Either.left(error.message)
    throw error
  }
}

/**
 * Docker's certificate files in a host directory without a `hosts.toml`: `*.crt` are CAs, `*.cert` client
 * certificates with the `*.key` of the same name (if there is one; else the `.cert` file holds the key).
 */
export const legacyTlsSettings = (dir: string, fileNames: ReadonlyArray<string>): TlsSettings => {
  const names = [...fileNames].sort()
  return {
    caFiles: names.filter((name) => name.endsWith(".crt")).map((name) => path.join(dir, name)),
    clientPairs: names.filter((name) => name.endsWith(".cert")).map((name) => {
      const key = `${name.slice(0, -".cert".length)}.key`
      return { cert: path.join(dir, name), key: names.includes(key) ? path.join(dir, key) : undefined }
    }),
    skipVerify: false
  }
}

// --- the hosts of a namespace ------------------------------------------------------------------------------

/** containerd's API root: the URL's path cleaned, `/v2` appended unless it is there or `override_path` is set. */
const apiRoot = (url: URL, overridePath: boolean): string => {
  const cleaned = path.posix.normalize(url.pathname === "" ? "/" : url.pathname).replace(/\/+$/, "")
  if (overridePath || cleaned.endsWith("/v2")) return cleaned
  return `${cleaned}/v2`
}

const fromEntry = (entry: HostEntry & { readonly url: URL }, role: RegistryHost["role"]): RegistryHost => ({
  scheme: entry.url.protocol === "http:" ? "http" : "https",
  host: entry.url.host,
  path: apiRoot(entry.url, entry.overridePath),
  capabilities: entry.capabilities,
  tls: entry.tls,
  headers: entry.headers,
  role,
  credentialKey: entry.url.host,
  staticAuth: role === "server"
})

/**
 * The server when the configuration names none: Docker Hub's API host for `docker.io`; plain HTTP for loopback
 * hosts and `insecure_registries` unless TLS settings were made for it (then it is meant to be HTTPS); else HTTPS.
 * Like containerd, it can do everything, at `/v2`, whatever capabilities the file's root level lists.
 */
const defaultServer = (
  domain: string,
  insecureRegistries: ReadonlyArray<string>,
  settings: Pick<HostEntry, "tls" | "headers">
): RegistryHost => {
  const host = domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain
  const plain = domain !== DOCKER_HUB_DOMAIN && !hasTlsSettings(settings.tls) &&
    (isLoopback(host) || isListedInsecure(host, insecureRegistries))
  return {
    scheme: plain ? "http" : "https",
    host,
    path: "/v2",
    capabilities: ALL_CAPABILITIES,
    tls: settings.tls,
    headers: settings.headers,
    role: "server",
    credentialKey: domain,
    staticAuth: true
  }
}

export type HostsConfig =
  | { readonly _tag: "None" }
  | { readonly _tag: "HostsFile"; readonly file: string; readonly document: HostsDocument }
  | { readonly _tag: "CertificateFiles"; readonly dir: string; readonly tls: TlsSettings }

/** The hosts a pull from `domain` tries, in order, for what was found in the hosts dir. */
export const namespaceHosts = (
  domain: string,
  config: HostsConfig,
  insecureRegistries: ReadonlyArray<string>
): NamespaceHosts => {
  switch (config._tag) {
    case "None":
      return {
        domain,
        source: { _tag: "Default" },
        hosts: [defaultServer(domain, insecureRegistries, { tls: NO_TLS_SETTINGS, headers: [] })],
        ignored: []
      }
    case "CertificateFiles":
      return {
        domain,
        source: { _tag: "CertificateFiles", dir: config.dir },
        hosts: [defaultServer(domain, insecureRegistries, { tls: config.tls, headers: [] })],
        ignored: []
      }
    case "HostsFile": {
      const { mirrors, server } = config.document
      const mirrorHosts = mirrors.map((entry) => fromEntry(entry as HostEntry & { readonly url: URL }, "mirror"))
      const serverHost = server.url === undefined ?
        defaultServer(domain, insecureRegistries, server) :
        fromEntry(server as HostEntry & { readonly url: URL }, "server")
      return {
        domain,
        source: { _tag: "HostsFile", file: config.file },
        hosts: [...mirrorHosts, serverHost],
        ignored: config.document.ignored
      }
    }
  }
}

export const hasCapability = (host: RegistryHost, capability: Capability): boolean => host.capabilities.includes(capability)

/**
 * Whether requests to `host` carry `ns=<domain>`: containerd names the namespace to every host that is not the
 * domain itself (a mirror serving several registries tells them apart by it).
 */
export const sendsNamespace = (host: RegistryHost, domain: string): boolean =>
  host.host !== domain && !(domain === DOCKER_HUB_DOMAIN && host.host === DOCKER_HUB_REGISTRY_HOST)

/** `<base>/<repository>/<kind>/<object>`, with `ns` for hosts other than the domain's own. */
export const apiUrl = (host: RegistryHost, domain: string, repository: string, rest: string): URL => {
  const url = new URL(`${baseUrlOf(host)}/${repository}/${rest}`)
  if (sendsNamespace(host, domain)) url.searchParams.set("ns", domain)
  return url
}

/** A host as messages name it: its API URL and its role. */
export const describeHost = (host: RegistryHost): string => `${host.role} ${baseUrlOf(host)}`

// --- failures across hosts ---------------------------------------------------------------------------------

/** How a host failed; `skipped` when that was earlier in the pull and it was not asked again. */
export interface HostAttempt {
  readonly host: RegistryHost
  readonly error: RegistryError
  readonly skipped: boolean
}

/** A message without the "temporary" hint, to be part of a longer one. */
const withoutHint = (message: string): string => message.replace(`; ${TEMPORARY_HINT}`, "")

/** A mirror failed and the next host is tried: the warning the pull reports. */
export const hostFailedWarning = (domain: string, subject: string, failed: RegistryHost, error: RegistryError, next: RegistryHost): string =>
  `registry ${describeHost(failed)} for ${domain} failed while pulling ${subject} (${withoutHint(error.message)}); ` +
  `trying ${describeHost(next)}`

/**
 * Every host failed: the error of the last one (the server, whose answer counts), with the message naming each
 * host tried, in order, and what it did.
 */
export const allHostsFailed = (domain: string, subject: string, attempts: ReadonlyArray<HostAttempt>): RegistryError => {
  const last = attempts[attempts.length - 1]!.error
  const tried = attempts.map(({ error, host, skipped }) =>
    `${describeHost(host)}: ${withoutHint(error.message)}${skipped ? " (earlier in this pull, so not asked again)" : ""}`
  )
  return new RegistryError({
    reason: last.reason,
    message: `no host of ${domain} could serve ${subject}; tried in order: ${tried.join("; ")}` +
      (isRecoverable(last) ? `; ${TEMPORARY_HINT}` : "")
  })
}

/** No configured host may do what is asked (e.g. every host lacks `resolve`). */
export const noHostCan = (namespace: NamespaceHosts, capabilities: ReadonlyArray<Capability>, subject: string): RegistryError =>
  new RegistryError({
    reason: "Protocol",
    message: `no host configured for ${namespace.domain} has the ${capabilities.map((c) => JSON.stringify(c)).join(" and ")} ` +
      `${capabilities.length === 1 ? "capability" : "capabilities"}, needed to pull ` +
      `${subject}${namespace.source._tag === "HostsFile" ? ` (see capabilities in ${namespace.source.file})` : ""}`
  })
