// The messages explaining a failed TLS connection to a registry (src/image/TlsFailure.ts): which Node/OpenSSL
// code counts as a TLS failure and which shows the registry's certificate, the certificate's names as text,
// OpenSSL's reason, and the full message for each kind of failure (untrusted CA, out-of-date certificate, wrong
// name, client certificate asked for or refused, a server that does not speak TLS, anything else), with and
// without the certificate and with and without a hosts.toml; and the message for plain HTTP sent to HTTPS.
// The messages are what a user acts on, so each is written out in full.
import { describe, expect, it } from "@effect/vitest"
import {
  distinguishedName,
  isPlainHttpToHttps,
  isTlsFailureCode,
  opensslReason,
  type PeerCertificate,
  showsPeerCertificate,
  speaksHttpsMessage,
  type TlsFailure,
  tlsFailureMessage
} from "../../src/image/TlsFailure.js"

const HOSTS_FILE = "/etc/containerd/certs.d/registry.example.com:5000/hosts.toml"

const peer: PeerCertificate = {
  subject: "CN=registry.example.com, O=Example",
  issuer: "CN=Example Internal CA",
  validFrom: "2025-01-01T00:00:00Z",
  validTo: "2026-01-01T00:00:00Z",
  subjectAltName: "DNS:registry.example.com, IP Address:10.0.0.5",
  fingerprint256: "AB:CD:EF"
}

const message = (code: string, detail: string, extra: Partial<TlsFailure> = {}): string =>
  tlsFailureMessage({
    host: "registry.example.com:5000",
    subject: "registry.example.com:5000/team/app:1.0",
    code,
    detail,
    peer: undefined,
    hostsFile: HOSTS_FILE,
    clientCertificateConfigured: false,
    ...extra
  })

describe("which error codes are TLS failures", () => {
  it("counts the codes of an untrusted CA, an out-of-date certificate, a refused client, ERR_TLS_*, ERR_SSL_*, any *CERT* and EPROTO", () => {
    for (
      const code of [
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "INVALID_CA",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "CERT_HAS_EXPIRED",
        "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "ERR_TLS_HANDSHAKE_TIMEOUT",
        "ERR_SSL_WRONG_VERSION_NUMBER",
        "CERT_REVOKED",
        "EPROTO"
      ]
    ) {
      expect([code, isTlsFailureCode(code)]).toEqual([code, true])
    }
  })

  it("leaves network failures and a missing code to the network error", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE"]) {
      expect([code, isTlsFailureCode(code)]).toEqual([code, false])
    }
    expect(isTlsFailureCode(undefined)).toBe(false)
  })
})

describe("which failures show the registry's certificate", () => {
  it("those about the certificate itself: its CA, its dates, its names", () => {
    for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "CERT_NOT_YET_VALID", "ERR_TLS_CERT_ALTNAME_INVALID"]) {
      expect([code, showsPeerCertificate(code)]).toEqual([code, true])
    }
  })

  it("not a refused client certificate, a server without TLS, or a revoked certificate", () => {
    for (const code of ["ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", "ERR_SSL_WRONG_VERSION_NUMBER", "EPROTO", "CERT_REVOKED"]) {
      expect([code, showsPeerCertificate(code)]).toEqual([code, false])
    }
  })
})

describe("a certificate's subject or issuer as text", () => {
  it("lists the fields Node gives, in order, a repeated field joined by +", () => {
    expect(distinguishedName({ C: "DE", O: "Example", CN: "registry.example.com" })).toBe("C=DE, O=Example, CN=registry.example.com")
    expect(distinguishedName({ OU: ["Ops", "Registry"], CN: "r" })).toBe("OU=Ops+Registry, CN=r")
  })

  it("says when there is none, or it is empty", () => {
    expect(distinguishedName(undefined)).toBe("(none)")
    expect(distinguishedName({})).toBe("(empty)")
  })
})

describe("OpenSSL's reason", () => {
  it("is the first line of Node's message, trimmed, when it is not from OpenSSL's error queue", () => {
    expect(opensslReason("  self-signed certificate \r\nsecond line")).toBe("self-signed certificate")
  })
})

describe("the message for a failed TLS connection", () => {
  it("an untrusted CA, with the certificate shown: where to put the CA", () => {
    expect(message("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate", { peer })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate): its certificate (subject CN=registry.example.com, O=Example; " +
        "issued by CN=Example Internal CA; valid 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z; " +
        "for DNS:registry.example.com, IP Address:10.0.0.5; SHA-256 AB:CD:EF). It is not signed by a CA this node trusts: " +
        "put the certificate of the CA that issued it in a file and name it in " +
        `${HOSTS_FILE} as ca = "/path/to/ca.crt" (or, if the directory has no hosts.toml, drop it there as ca.crt; ` +
        "or add it to the system trust store); " +
        "skip_verify = true in that file turns verification off instead"
    )
  })

  it("an untrusted CA, the certificate not shown and no hosts dir: how to set one up", () => {
    expect(message("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", { hostsFile: undefined })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate). It is not signed by a CA this node " +
        "trusts: put the certificate of the CA that issued it in a file and name it in a hosts.toml for " +
        "registry.example.com:5000 (set the driver's hosts_dir, e.g. /etc/containerd/certs.d, and write " +
        "<hosts_dir>/registry.example.com:5000/hosts.toml) as ca = \"/path/to/ca.crt\" (or, if the directory has no hosts.toml, drop it " +
        "there as ca.crt; or add it to the system trust store); skip_verify = true in that file turns verification off instead"
    )
  })

  it("an expired certificate, its names left out when it has none", () => {
    expect(message("CERT_HAS_EXPIRED", "certificate has expired", { peer: { ...peer, subjectAltName: undefined } })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(CERT_HAS_EXPIRED: certificate has expired): its certificate (subject CN=registry.example.com, O=Example; " +
        "issued by CN=Example Internal CA; valid 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z; SHA-256 AB:CD:EF). " +
        "The certificate is expired: the registry needs a current certificate (or this node's clock is wrong); " +
        `skip_verify = true in ${HOSTS_FILE} turns verification off meanwhile`
    )
  })

  it("a certificate not valid yet", () => {
    expect(message("CERT_NOT_YET_VALID", "certificate is not yet valid")).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(CERT_NOT_YET_VALID: certificate is not yet valid). The certificate is not valid yet: the registry needs a " +
        "current certificate (or this node's clock is wrong); " +
        `skip_verify = true in ${HOSTS_FILE} turns verification off meanwhile`
    )
  })

  it("a certificate for other names: the name without its port, and how to reach the registry by a name it holds", () => {
    const detail = "Hostname/IP does not match certificate's altnames: Host: registry.example.com. is not in the cert's " +
      "altnames: DNS:other.example.com"
    expect(message("ERR_TLS_CERT_ALTNAME_INVALID", detail, { peer })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        `(ERR_TLS_CERT_ALTNAME_INVALID: ${detail}): its certificate (subject CN=registry.example.com, O=Example; ` +
        "issued by CN=Example Internal CA; valid 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z; " +
        "for DNS:registry.example.com, IP Address:10.0.0.5; SHA-256 AB:CD:EF). The certificate is for other names than " +
        "registry.example.com: reach the registry by a name its certificate holds (server = \"https://<that name>\" or a " +
        `[host."https://<that name>"] entry in ${HOSTS_FILE}), or give it a certificate for this name; ` +
        "skip_verify = true there turns verification off instead"
    )
  })

  it("a certificate for other names than an IPv6 address keeps the whole address", () => {
    expect(message("ERR_TLS_CERT_ALTNAME_INVALID", "IP: ::1 is not in the cert's list: ", { host: "[::1]:5000", hostsFile: "/h/[::1]:5000/hosts.toml" }))
      .toBe(
        "TLS connection to registry [::1]:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
          "(ERR_TLS_CERT_ALTNAME_INVALID: IP: ::1 is not in the cert's list:). The certificate is for other names than " +
          "[::1]: reach the registry by a name its certificate holds (server = \"https://<that name>\" or a " +
          "[host.\"https://<that name>\"] entry in /h/[::1]:5000/hosts.toml), or give it a certificate for this name; " +
          "skip_verify = true there turns verification off instead"
      )
  })

  const certificateRequired =
    "C0D7:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 116\n"

  it("a client certificate asked for and none configured: how to configure one", () => {
    expect(message("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", certificateRequired)).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required). The registry asks for a " +
        `client certificate: name it and its key in ${HOSTS_FILE} as ` +
        "client = [[\"/path/to/client.cert\", \"/path/to/client.key\"]] (or, if the directory has no hosts.toml, drop them " +
        "there as client.cert and client.key)"
    )
  })

  it("the configured client certificate refused: what it must be", () => {
    const detail =
      "C0D7:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 48\n"
    expect(message("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", detail, { clientCertificateConfigured: true })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: tlsv1 alert unknown ca). The registry refused the client certificate " +
        `configured in ${HOSTS_FILE} (client = …): it must be issued by a CA the registry accepts for clients, and be current`
    )
  })

  const handshakeFailure =
    "C0D7:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40\n"

  it("a handshake failure without a client certificate: the registry is taken to ask for one", () => {
    expect(message("ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", handshakeFailure)).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: sslv3 alert handshake failure). The registry asks for a " +
        `client certificate: name it and its key in ${HOSTS_FILE} as ` +
        "client = [[\"/path/to/client.cert\", \"/path/to/client.key\"]] (or, if the directory has no hosts.toml, drop them " +
        "there as client.cert and client.key)"
    )
  })

  it("a handshake failure with a client certificate configured: not blamed on the certificate", () => {
    expect(message("ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", handshakeFailure, { clientCertificateConfigured: true })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: sslv3 alert handshake failure); check the registry's TLS setup, " +
        `or the ca, client and skip_verify settings in ${HOSTS_FILE}`
    )
  })

  it("a server that does not speak TLS, by each of its codes: how to use plain HTTP", () => {
    const wrongVersion =
      "C0D7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:355:\n"
    const packetTooLong =
      "C0D7:error:0A0000C6:SSL routines:tls_get_more_records:packet length too long:../deps/openssl/openssl/ssl/record/methods/tls_common.c:662:\n"
    const eproto =
      "write EPROTO 140:error:1408F10B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:332:\n"
    expect(message("ERR_SSL_WRONG_VERSION_NUMBER", wrongVersion)).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_WRONG_VERSION_NUMBER: wrong version number). registry.example.com:5000 does not seem to speak TLS: " +
        `if it is a plain-HTTP registry, set server = "http://registry.example.com:5000" in ${HOSTS_FILE} ` +
        "(or list it in insecure_registries)"
    )
    expect(message("ERR_SSL_PACKET_LENGTH_TOO_LONG", packetTooLong, { hostsFile: undefined })).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_PACKET_LENGTH_TOO_LONG: packet length too long). registry.example.com:5000 does not seem to speak TLS: " +
        "if it is a plain-HTTP registry, set server = \"http://registry.example.com:5000\" in a hosts.toml for " +
        "registry.example.com:5000 (set the driver's hosts_dir, e.g. /etc/containerd/certs.d, and write " +
        "<hosts_dir>/registry.example.com:5000/hosts.toml) (or list it in insecure_registries)"
    )
    expect(message("EPROTO", eproto)).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(EPROTO: wrong version number). registry.example.com:5000 does not seem to speak TLS: " +
        `if it is a plain-HTTP registry, set server = "http://registry.example.com:5000" in ${HOSTS_FILE} ` +
        "(or list it in insecure_registries)"
    )
  })

  it("any other failure: which settings to check", () => {
    const detail =
      "C0D7:error:0A000102:SSL routines:ssl_choose_client_version:unsupported protocol:../deps/openssl/openssl/ssl/statem/statem_lib.c:1985:\n"
    expect(message("ERR_SSL_UNSUPPORTED_PROTOCOL", detail)).toBe(
      "TLS connection to registry registry.example.com:5000 failed while pulling registry.example.com:5000/team/app:1.0 " +
        "(ERR_SSL_UNSUPPORTED_PROTOCOL: unsupported protocol); check the registry's TLS setup, " +
        `or the ca, client and skip_verify settings in ${HOSTS_FILE}`
    )
  })
})

describe("plain HTTP sent to an HTTPS registry", () => {
  it("is a 400 whose body says so; the same text with another status is not", () => {
    expect(isPlainHttpToHttps(400, "Client sent an HTTP request to an HTTPS server.\n")).toBe(true)
    expect(isPlainHttpToHttps(404, "Client sent an HTTP request to an HTTPS server.\n")).toBe(false)
  })

  it("says to ask it over HTTPS, in the hosts.toml or in one to write", () => {
    const failure = { host: "registry.example.com:5000", subject: "registry.example.com:5000/team/app:1.0" }
    expect(speaksHttpsMessage({ ...failure, hostsFile: HOSTS_FILE })).toBe(
      "registry registry.example.com:5000 speaks HTTPS but was asked over plain HTTP while pulling " +
        "registry.example.com:5000/team/app:1.0: write server = \"https://registry.example.com:5000\" in " +
        `${HOSTS_FILE}, with ca = "/path/to/ca.crt" if a private CA issued its certificate ` +
        "(or, if the directory has no hosts.toml, drop the CA there as ca.crt instead, which makes it HTTPS too)"
    )
    expect(speaksHttpsMessage({ ...failure, hostsFile: undefined })).toBe(
      "registry registry.example.com:5000 speaks HTTPS but was asked over plain HTTP while pulling " +
        "registry.example.com:5000/team/app:1.0: write server = \"https://registry.example.com:5000\" in a hosts.toml " +
        "for registry.example.com:5000 (set the driver's hosts_dir, e.g. /etc/containerd/certs.d, and write " +
        "<hosts_dir>/registry.example.com:5000/hosts.toml), with ca = \"/path/to/ca.crt\" if a private CA issued its " +
        "certificate (or, if the directory has no hosts.toml, drop the CA there as ca.crt instead, which makes it HTTPS too)"
    )
  })
})
