/**
 * Reads what the hosts dir (containerd's `certs.d` layout) says about a registry namespace: the first of
 * `<domain with _port_>`, `<domain>`, `_default` that is a directory; its `hosts.toml`, or, without one, Docker's
 * certificate files in it. Read at every pull, like containerd, so an edit applies to the next pull.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Either } from "effect"
import { readBoundedFile } from "../boundedFile.js"
import {
  hostDirectories,
  type HostsConfig,
  legacyTlsSettings,
  type NamespaceHosts,
  namespaceHosts,
  parseHostsToml
} from "../../src/image/RegistryHosts.js"
import { RegistryError } from "../../src/image/RegistryProtocol.js"

const MAX_HOSTS_TOML_BYTES = 1024 * 1024

const unusable = (what: string, detail: string, cause?: unknown) =>
  new RegistryError({ reason: "Protocol", message: `cannot use ${what}: ${detail}`, ...(cause === undefined ? {} : { cause }) })

const errorText = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code
  return code === "EACCES" || code === "EPERM" ? "permission denied" : code ?? String(error)
}

/** The directory configuring `domain`, if any: `undefined` when none of the candidates is a directory. */
export const findHostDirectory = (hostsDir: string, domain: string): Effect.Effect<string | undefined, RegistryError> =>
  Effect.gen(function*() {
    for (const name of hostDirectories(domain)) {
      const dir = path.join(hostsDir, name)
      const stat = yield* Effect.tryPromise({
        try: () => fs.promises.stat(dir),
        catch: (error) => error as NodeJS.ErrnoException
      }).pipe(
        Effect.map((stat) => stat.isDirectory()),
        Effect.catchAll((error) =>
          error.code === "ENOENT" || error.code === "ENOTDIR" ?
            Effect.succeed(false) :
            Effect.fail(unusable(`the hosts dir entry ${dir}`, errorText(error), error))
        )
      )
      if (stat) return dir
    }
    return undefined
  })

/** What a directory holds: its hosts.toml decoded, or its certificate files. */
const readHostDirectory = (dir: string): Effect.Effect<HostsConfig, RegistryError> =>
  Effect.gen(function*() {
    const file = path.join(dir, "hosts.toml")
    const text = yield* readBoundedFile(file, MAX_HOSTS_TOML_BYTES).pipe(
      Effect.map((bytes) => bytes.toString("utf8")),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed("")),
      Effect.mapError((error) => unusable(file, error.message, error))
    )
    if (text.trim() !== "") {
      const document = parseHostsToml(text, dir)
      if (Either.isLeft(document)) return yield* unusable(file, `${document.left} (see containerd's docs/hosts.md for the format)`)
      return { _tag: "HostsFile", file, document: document.right } as const
    }
    const names = yield* Effect.tryPromise({
      try: () => fs.promises.readdir(dir, { withFileTypes: true }),
      catch: (error) => unusable(dir, errorText(error), error)
    })
    const files = names.filter((entry) => !entry.isDirectory()).map((entry) => entry.name)
    return { _tag: "CertificateFiles", dir, tls: legacyTlsSettings(dir, files) } as const
  })

/** The hosts a pull from `domain` tries, in order; `hostsDir` undefined or empty means only the default server. */
export const loadNamespaceHosts = (
  hostsDir: string | undefined,
  domain: string,
  insecureRegistries: ReadonlyArray<string>
): Effect.Effect<NamespaceHosts, RegistryError> =>
  Effect.gen(function*() {
    if (hostsDir === undefined || hostsDir === "") return namespaceHosts(domain, { _tag: "None" }, insecureRegistries)
    const dir = yield* findHostDirectory(hostsDir, domain)
    if (dir === undefined) return namespaceHosts(domain, { _tag: "None" }, insecureRegistries)
    return namespaceHosts(domain, yield* readHostDirectory(dir), insecureRegistries)
  })
