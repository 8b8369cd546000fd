/**
 * `doctor --image REF`: which hosts a pull of REF would try, in order, with what each may do, how it is reached
 * (plain HTTP, or TLS with which CAs, client certificate, verification) and where its credentials would come
 * from — never the credentials themselves. Reads the hosts dir and the TLS files the way a pull does, so a
 * broken file shows here first.
 */
import { Effect, Either } from "effect"
import type { DriverConfig } from "../../src/config/DriverConfig.js"
import * as Reference from "../../src/image/Reference.js"
import {
  baseUrlOf,
  hasCapability,
  hostDirectories,
  type NamespaceHosts,
  type RegistryHost,
  sendsNamespace
} from "../../src/image/RegistryHosts.js"
import { describeSources } from "../Credentials.js"
import { credentialsConfig, registryConfig } from "../imagestore/fromConfig.js"
import { loadNamespaceHosts } from "./hostsDir.js"
import { loadTlsMaterial } from "./tlsAgents.js"

const label = (name: string): string => `${name}:`.padEnd(15)
const indent = " ".repeat(15)

const sourceLine = (namespace: NamespaceHosts, hostsDir: string | undefined): string => {
  switch (namespace.source._tag) {
    case "HostsFile":
      return namespace.source.file
    case "CertificateFiles":
      return `${namespace.source.dir} (no hosts.toml: its *.crt, *.cert and *.key files)`
    case "Default":
      return hostsDir === undefined ?
        "none (hosts_dir is \"\")" :
        `none (no ${hostDirectories(namespace.domain).join(", ")} under ${hostsDir}): the registry's default server`
  }
}

const transport = (host: RegistryHost): Effect.Effect<string> =>
  Effect.gen(function*() {
    if (host.scheme === "http") return "plain HTTP"
    const checked = yield* Effect.either(loadTlsMaterial(host.tls, host.host))
    if (Either.isLeft(checked)) return `TLS: ERROR ${checked.left.message}`
    const parts = [`TLS with the system CAs${host.tls.caFiles.map((file) => ` + ${file}`).join("")}`]
    for (const pair of host.tls.clientPairs) {
      parts.push(`client certificate ${pair.cert}${pair.key === undefined ? "" : ` (key ${pair.key})`}`)
    }
    if (host.tls.skipVerify) parts.push("skip_verify: the certificate is NOT checked")
    return parts.join("; ")
  })

/** The report's lines for `reference` under `config`, ready to print. */
export const hostsReport = (config: DriverConfig, reference: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const parsed = Reference.parse(reference)
    if (Either.isLeft(parsed)) return [`${label("image")}${parsed.left.message}`]
    const ref = Reference.canonical(parsed.right)
    const settings = registryConfig(config)
    const hostsDir = settings.hostsDir === undefined || settings.hostsDir === "" ? undefined : settings.hostsDir
    const lines = [`${label("image")}${ref.normalized}`]
    const loaded = yield* Effect.either(loadNamespaceHosts(hostsDir, ref.domain, settings.insecureRegistries ?? []))
    if (Either.isLeft(loaded)) return [...lines, `${label("hosts config")}ERROR ${loaded.left.message}`]
    const namespace = loaded.right
    lines.push(`${label("hosts config")}${sourceLine(namespace, hostsDir)}`)
    if (namespace.ignored.length > 0) lines.push(`${label("ignored")}${namespace.ignored.join(", ")} (not used by this driver)`)
    const credentials = credentialsConfig(config)
    for (const [index, host] of namespace.hosts.entries()) {
      const can = host.capabilities.join(", ")
      const ns = sendsNamespace(host, ref.domain) ? `; requests carry ns=${ref.domain}` : ""
      const headers = host.headers.length === 0 ? "" : `; headers ${host.headers.map(([name]) => name).join(", ")}`
      lines.push(`${label(`host ${index + 1}`)}${host.role} ${baseUrlOf(host)} (${can})${ns}${headers}`)
      lines.push(`${indent}${yield* transport(host)}`)
      const sources = yield* describeSources(credentials, host.credentialKey, { staticAuth: host.staticAuth })
      lines.push(`${indent}credentials: ${sources}`)
    }
    const order = (capabilities: ReadonlyArray<"resolve" | "pull">) => {
      const numbers = namespace.hosts.flatMap((host, index) =>
        capabilities.every((capability) => hasCapability(host, capability)) ? [`host ${index + 1}`] : []
      )
      return numbers.length === 0 ? "no host (the pull fails)" : numbers.join(", then ")
    }
    if (ref.digest === undefined) lines.push(`${label("tag")}resolved by ${order(["pull", "resolve"])}`)
    lines.push(`${label("content")}fetched by digest from ${order(["pull"])}`)
    return lines
  })
