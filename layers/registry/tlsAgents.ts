/**
 * HTTPS connection pools per TLS setting of a registry host: the system's CAs plus the host's `ca` files, its
 * client certificates, `skip_verify`. The files are read at every use (an operator may replace them while the
 * plugin runs, as containerd allows); a pool is kept per distinct content, the oldest closed past a bound.
 * Also the second look at a host whose certificate was refused: a handshake that verifies nothing and sends
 * nothing, only to show in the error which certificate the host presented.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as https from "node:https"
import { isIP } from "node:net"
import * as tls from "node:tls"
import { Effect, Option, type Scope } from "effect"
import { readBoundedFile } from "../boundedFile.js"
import type { TlsSettings } from "../../src/image/RegistryHosts.js"
import { RegistryError, splitHostPort } from "../../src/image/RegistryProtocol.js"
import { distinguishedName, type PeerCertificate } from "../../src/image/TlsFailure.js"

/** Common CA bundle locations (Debian/Ubuntu, RHEL/Fedora, openSUSE, Alpine). */
export const SYSTEM_CA_FILES: ReadonlyArray<string> = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem"
]

/** A certificate or key file larger than this is not one. */
const MAX_PEM_BYTES = 1024 * 1024
/** Pools kept for distinct TLS settings; an operator rotating certificates makes new ones. */
const MAX_AGENTS = 32
const PROBE_TIMEOUT_MS = 5_000

export interface TlsMaterial {
  readonly ca: ReadonlyArray<string>
  readonly cert: ReadonlyArray<string>
  readonly key: ReadonlyArray<string>
  readonly skipVerify: boolean
}

export interface TlsAgents {
  /** The pool for these settings; fails naming the file that cannot be read or used. */
  readonly agentFor: (settings: TlsSettings, host: string) => Effect.Effect<https.Agent, RegistryError>
}

const loadCaBundles = (files: ReadonlyArray<string>): ReadonlyArray<string> =>
  files.flatMap((file) => {
    try {
      return [readFileSync(file, "utf8")]
    } catch {
      return []
    }
  })

const misconfigured = (host: string, message: string, cause?: unknown) =>
  new RegistryError({ reason: "Protocol", message: `TLS settings for registry ${host}: ${message}`, ...(cause === undefined ? {} : { cause }) })

const readPem = (file: string, what: string, host: string) =>
  readBoundedFile(file, MAX_PEM_BYTES).pipe(
    Effect.map((bytes) => bytes.toString("utf8")),
    Effect.mapError((error) => misconfigured(host, `cannot read the ${what} ${error.message}`, error))
  )

/**
 * The files of a host's TLS settings, read and checked: every CA file must hold a certificate, every client
 * certificate must go with its key.
 */
export const loadTlsMaterial = (settings: TlsSettings, host: string): Effect.Effect<TlsMaterial, RegistryError> =>
  Effect.gen(function*() {
    const ca: Array<string> = []
    for (const file of settings.caFiles) {
      const pem = yield* readPem(file, "CA file", host)
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
        return yield* misconfigured(host, `the CA file ${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`)
      }
      ca.push(pem)
    }
    const cert: Array<string> = []
    const key: Array<string> = []
    for (const pair of settings.clientPairs) {
      const certificate = yield* readPem(pair.cert, "client certificate", host)
      const privateKey = pair.key === undefined ? certificate : yield* readPem(pair.key, "client key", host)
      const keyFile = pair.key ?? pair.cert
      const problem = (() => {
        try {
          tls.createSecureContext({ cert: certificate, key: privateKey })
          return undefined
        } catch (error) {
          return error instanceof Error ? error.message : String(error)
        }
      })()
      if (problem !== undefined) {
        return yield* misconfigured(
          host,
          `the client certificate ${pair.cert} and key ${keyFile} cannot be used together (${problem}); ` +
            "client = [[\"<certificate file>\", \"<key file>\"]] wants a PEM certificate and its unencrypted PEM key"
        )
      }
      cert.push(certificate)
      key.push(privateKey)
    }
    return { ca, cert, key, skipVerify: settings.skipVerify }
  })

const materialKey = (material: TlsMaterial): string => {
  const hash = createHash("sha256")
  for (const part of [...material.ca, "\0cert", ...material.cert, "\0key", ...material.key]) hash.update(part).update("\0")
  return `${material.skipVerify ? "skip" : "verify"}:${hash.digest("hex")}`
}

export const make = (systemCaFiles: ReadonlyArray<string> = SYSTEM_CA_FILES): Effect.Effect<TlsAgents, never, Scope.Scope> =>
  Effect.gen(function*() {
    const systemCas = [...tls.rootCertificates, ...loadCaBundles(systemCaFiles)]
    const agents = new Map<string, https.Agent>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const agent of agents.values()) agent.destroy()
        agents.clear()
      })
    )

    const agentFor: TlsAgents["agentFor"] = (settings, host) =>
      Effect.gen(function*() {
        const material = yield* loadTlsMaterial(settings, host)
        const key = materialKey(material)
        const known = agents.get(key)
        if (known !== undefined) {
          // Most recently used last, so the oldest is the first to go.
          agents.delete(key)
          agents.set(key, known)
          return known
        }
        const agent = new https.Agent({
          keepAlive: true,
          ca: [...systemCas, ...material.ca],
          ...(material.cert.length > 0 ? { cert: [...material.cert], key: [...material.key] } : {}),
          rejectUnauthorized: !material.skipVerify
        })
        agents.set(key, agent)
        if (agents.size > MAX_AGENTS) {
          const [oldestKey, oldest] = agents.entries().next().value as [string, https.Agent]
          agents.delete(oldestKey)
          oldest.destroy()
        }
        return agent
      })

    return { agentFor }
  })

/** `Dec  6 04:01:17 2026 GMT` → `2026-12-06T04:01:17Z` (as given when it is not a date). */
const isoDate = (text: string): string => {
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? text : date.toISOString().replace(".000Z", "Z")
}

/**
 * The certificate `host` presents, read with a handshake that trusts anything and sends no request; none when
 * the host cannot be reached or shows none.
 */
export const peerCertificate = (host: string): Effect.Effect<Option.Option<PeerCertificate>> =>
  Effect.async<Option.Option<PeerCertificate>>((resume) => {
    const { hostname, port } = splitHostPort(host)
    const socket = tls.connect({
      host: hostname,
      port: Number(port ?? 443),
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      rejectUnauthorized: false
    })
    let settled = false
    const settle = (value: Option.Option<PeerCertificate>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(value))
    }
    const timer = setTimeout(() => settle(Option.none()), PROBE_TIMEOUT_MS)
    socket.once("secureConnect", () => {
      const peer = socket.getPeerCertificate()
      if (peer === undefined || peer === null || Object.keys(peer).length === 0) return settle(Option.none())
      settle(Option.some({
        subject: distinguishedName(peer.subject as unknown as Record<string, string>),
        issuer: distinguishedName(peer.issuer as unknown as Record<string, string>),
        validFrom: isoDate(peer.valid_from),
        validTo: isoDate(peer.valid_to),
        subjectAltName: peer.subjectaltname === undefined || peer.subjectaltname === "" ? undefined : peer.subjectaltname,
        fingerprint256: peer.fingerprint256
      }))
    })
    socket.once("error", () => settle(Option.none()))
    return Effect.sync(() => settle(Option.none()))
  })
