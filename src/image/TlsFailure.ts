/**
 * A failed TLS connection to a registry, explained: which host, which certificate it showed, what is wrong with
 * it, and which setting of which `hosts.toml` fixes it. Node reports the failure by OpenSSL's code; the
 * certificate itself is read by a second handshake that sends nothing (layers/registry/tlsAgents.ts).
 */
/** What a registry's certificate says, as far as a message needs it. */
export interface PeerCertificate {
  readonly subject: string
  readonly issuer: string
  readonly validFrom: string
  readonly validTo: string
  /** `DNS:a, IP Address:1.2.3.4` as Node gives it. */
  readonly subjectAltName: string | undefined
  readonly fingerprint256: string
}

export interface TlsFailure {
  /** `host[:port]` that was dialled. */
  readonly host: string
  /** What was being pulled. */
  readonly subject: string
  /** Node's error code (an OpenSSL verification code or an ERR_SSL_* / ERR_TLS_* code). */
  readonly code: string
  readonly detail: string
  readonly peer: PeerCertificate | undefined
  /** The hosts.toml whose settings apply (or would, once written); undefined when no hosts dir is configured. */
  readonly hostsFile: string | undefined
  readonly clientCertificateConfigured: boolean
}

const untrusted = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA"
])
const outOfDate = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"])
const clientCertificateRefused = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED"
])

/** Whether a Node error code is a TLS failure (rather than a network one). */
export const isTlsFailureCode = (code: string | undefined): code is string =>
  code !== undefined && (untrusted.has(code) || outOfDate.has(code) || clientCertificateRefused.has(code) ||
    code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.includes("CERT") || code === "EPROTO")

/** Whether a second, non-verifying handshake could show the certificate the failure is about. */
export const showsPeerCertificate = (code: string): boolean =>
  untrusted.has(code) || outOfDate.has(code) || code === "ERR_TLS_CERT_ALTNAME_INVALID"

/** `CN=registry.example.com, O=Example` from Node's `subject`/`issuer` objects (the keys it has, in order). */
export const distinguishedName = (fields: Readonly<Record<string, string | ReadonlyArray<string>>> | undefined): string => {
  if (fields === undefined) return "(none)"
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === "string" ? value : value.join("+")}`)
  return parts.length === 0 ? "(empty)" : parts.join(", ")
}

const certificateText = (peer: PeerCertificate): string =>
  `its certificate (subject ${peer.subject}; issued by ${peer.issuer}; valid ${peer.validFrom} to ${peer.validTo}` +
  `${peer.subjectAltName === undefined ? "" : `; for ${peer.subjectAltName}`}; SHA-256 ${peer.fingerprint256})`

const where = (failure: Pick<TlsFailure, "host" | "hostsFile">): string =>
  failure.hostsFile === undefined ?
    `a hosts.toml for ${failure.host} (set the driver's hosts_dir, e.g. /etc/containerd/certs.d, and write <hosts_dir>/${failure.host}/hosts.toml)` :
    failure.hostsFile

/**
 * When certificate files dropped in a host directory count: only while it has no hosts.toml, as in containerd
 * (layers/registry/hostsDir.ts reads them only then).
 */
const legacyFilesOnly = "if the directory has no hosts.toml"

/** Whether a plain-HTTP answer is an HTTPS server's refusal of plain HTTP (Go's servers answer 400 with this text). */
export const isPlainHttpToHttps = (status: number, body: string): boolean =>
  status === 400 && /HTTP request to an HTTPS server/i.test(body)

/** A registry that speaks HTTPS was asked over plain HTTP (a loopback or insecure registry with TLS). */
export const speaksHttpsMessage = (failure: Pick<TlsFailure, "host" | "subject" | "hostsFile">): string =>
  `registry ${failure.host} speaks HTTPS but was asked over plain HTTP while pulling ${failure.subject}: write ` +
  `server = "https://${failure.host}" in ${where(failure)}, with ca = "/path/to/ca.crt" if a private CA issued its ` +
  `certificate (or, ${legacyFilesOnly}, drop the CA there as ca.crt instead, which makes it HTTPS too)`

/** OpenSSL's reason without its error-queue prefix and source location: `sslv3 alert bad certificate`. */
export const opensslReason = (detail: string): string => {
  const line = detail.split("\n")[0]?.trim() ?? ""
  const queued = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)/.exec(line)
  return queued?.[1] ?? line
}

/** The message for a failed TLS connection: what is wrong and what to write where. */
export const tlsFailureMessage = (failure: TlsFailure): string => {
  const { code, host, subject } = failure
  const lead = `TLS connection to registry ${host} failed while pulling ${subject} (${code}: ${opensslReason(failure.detail)})`
  const shown = failure.peer === undefined ? "" : `: ${certificateText(failure.peer)}`
  const file = where(failure)
  if (untrusted.has(code)) {
    return `${lead}${shown}. It is not signed by a CA this node trusts: put the certificate of the CA that issued it in a ` +
      `file and name it in ${file} as ca = "/path/to/ca.crt" (or, ${legacyFilesOnly}, drop it there as ca.crt; or add it ` +
      `to the system trust store); skip_verify = true in that file turns verification off instead`
  }
  if (outOfDate.has(code)) {
    return `${lead}${shown}. The certificate is ${code === "CERT_HAS_EXPIRED" ? "expired" : "not valid yet"}: the ` +
      `registry needs a current certificate (or this node's clock is wrong); skip_verify = true in ${file} ` +
      "turns verification off meanwhile"
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `${lead}${shown}. The certificate is for other names than ${host.replace(/:\d+$/, "")}: reach the registry ` +
      `by a name its certificate holds (server = "https://<that name>" or a [host."https://<that name>"] entry in ` +
      `${file}), or give it a certificate for this name; skip_verify = true there turns verification off instead`
  }
  if (clientCertificateRefused.has(code) || (code === "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE" && !failure.clientCertificateConfigured)) {
    return failure.clientCertificateConfigured ?
      `${lead}. The registry refused the client certificate configured in ${file} (client = …): it must be ` +
        "issued by a CA the registry accepts for clients, and be current" :
      `${lead}. The registry asks for a client certificate: name it and its key in ${file} as ` +
        `client = [["/path/to/client.cert", "/path/to/client.key"]] (or, ${legacyFilesOnly}, drop them there as client.cert and client.key)`
  }
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG" || code === "EPROTO") {
    return `${lead}. ${host} does not seem to speak TLS: if it is a plain-HTTP registry, set server = "http://${host}" ` +
      `in ${file} (or list it in insecure_registries)`
  }
  return `${lead}${shown}; check the registry's TLS setup, or the ca, client and skip_verify settings in ${file}`
}
