// Which hosts serve a registry namespace: containerd's hosts.toml decoded (mirrors in file order, the server
// last, relative paths, the forms of ca/client/header), Docker's certificate files, the default server, the
// API URLs, the error naming every host tried, and the TLS failure messages.
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import {
  allHostsFailed,
  apiUrl,
  baseUrlOf,
  hostDirectories,
  type HostsDocument,
  hostsFileFor,
  legacyTlsSettings,
  namespaceHosts,
  noHostCan,
  parseHostsToml,
  type RegistryHost
} from "../../src/image/RegistryHosts.js"
import { RegistryError } from "../../src/image/RegistryProtocol.js"
import { isPlainHttpToHttps, opensslReason, speaksHttpsMessage, type TlsFailure, tlsFailureMessage } from "../../src/image/TlsFailure.js"

const parse = (text: string, dir = "/etc/containerd/certs.d/docker.io"): HostsDocument =>
  Either.getOrThrowWith(parseHostsToml(text, dir), (message) => new Error(message))

const parseError = (text: string): string => Either.getLeft(parseHostsToml(text, "/d")).pipe((e) => (e._tag === "Some" ? e.value : ""))

const hostsOf = (domain: string, text: string, insecure: ReadonlyArray<string> = []) =>
  namespaceHosts(domain, { _tag: "HostsFile", file: `/h/${domain}/hosts.toml`, document: parse(text, `/h/${domain}`) }, insecure).hosts

describe("the directory of a domain", () => {
  it("is looked up as host_port_, host:port, then _default (as containerd on Unix)", () => {
    expect(hostDirectories("registry.example.com:5000")).toEqual(["registry.example.com_5000_", "registry.example.com:5000", "_default"])
    expect(hostDirectories("docker.io")).toEqual(["docker.io", "_default"])
    expect(hostDirectories("[::1]:5000")).toEqual(["[::1]_5000_", "[::1]:5000", "_default"])
  })

  it("names <hosts dir>/<host:port>/hosts.toml as the file to write for a domain (containerd's docs/hosts.md)", () => {
    expect(hostsFileFor("/etc/containerd/certs.d", "registry.example.com:5000")).toBe("/etc/containerd/certs.d/registry.example.com:5000/hosts.toml")
  })
})

describe("hosts.toml", () => {
  it("lists the [host] entries in file order before the server, each with containerd's defaults", () => {
    const hosts = hostsOf("docker.io", `
      server = "https://registry-1.docker.io"
      [host."https://public-mirror.example.com"]
        capabilities = ["pull"]
      [host."http://docker-mirror.internal:5000"]
        capabilities = ["pull", "resolve"]
      [host."mirror-without-scheme.example"]
    `)
    expect(hosts.map((host) => [host.role, baseUrlOf(host), host.capabilities])).toEqual([
      ["mirror", "https://public-mirror.example.com/v2", ["pull"]],
      ["mirror", "http://docker-mirror.internal:5000/v2", ["pull", "resolve"]],
      ["mirror", "https://mirror-without-scheme.example/v2", ["pull", "resolve", "push"]],
      ["server", "https://registry-1.docker.io/v2", ["pull", "resolve", "push"]]
    ])
  })

  it("reads capabilities case-insensitively, and an empty list as every capability (containerd: len(Capabilities) > 0)", () => {
    const [upper, empty, server] = hostsOf("registry.example.com", `
      capabilities = ["push"]
      server = "https://registry.example.com"
      [host."https://upper.example"]
        capabilities = ["PULL", "Push"]
      [host."https://empty.example"]
        capabilities = []
    `)
    expect(upper?.capabilities).toEqual(["pull", "push"])
    expect(empty?.capabilities).toEqual(["pull", "resolve", "push"])
    expect(server?.capabilities).toEqual(["push"])
  })

  it.prop(
    "keeps any number of mirrors in the order written",
    [FastCheck.uniqueArray(FastCheck.domain(), { minLength: 1, maxLength: 8 })],
    ([names]) => {
      const text = names.map((name, i) => `[host."https://${name}:${5000 + i}"]\ncapabilities = ["pull"]\n`).join("")
      const hosts = hostsOf("registry.example.com", text)
      expect(hosts.slice(0, -1).map((host) => host.host)).toEqual(names.map((name, i) => `${new URL(`https://${name}`).hostname}:${5000 + i}`))
      expect(hosts.at(-1)?.host).toBe("registry.example.com")
    }
  )

  it("appends /v2 to a path unless it ends with it or override_path is set", () => {
    const hosts = hostsOf("registry.example.com", `
      [host."https://mirror-bak.registry/us"]
      [host."https://proxy.example/v2"]
      [host."https://non-compliant.example/v2/upstream"]
        override_path = true
    `)
    expect(hosts.map(baseUrlOf)).toEqual([
      "https://mirror-bak.registry/us/v2",
      "https://proxy.example/v2",
      "https://non-compliant.example/v2/upstream",
      "https://registry.example.com/v2"
    ])
    // containerd: path.Clean, then "/v2" unless the path ends with it (a path starting with /v2 does not count).
    expect(hostsOf("registry.example.com", `
      [host."https://a.example/v2/upstream"]
      [host."https://b.example/api/v2"]
      [host."https://c.example/v2/"]
    `).map(baseUrlOf)).toEqual([
      "https://a.example/v2/upstream/v2",
      "https://b.example/api/v2",
      "https://c.example/v2",
      "https://registry.example.com/v2"
    ])
  })

  it("takes a host without a scheme as HTTPS even when its path holds \"://\" (a scheme is read at the start only)", () => {
    const [server] = hostsOf("registry.example.com", `server = "registry.example.com/mirror/http://upstream"`)
    expect(baseUrlOf(server!)).toBe("https://registry.example.com/mirror/http:/upstream/v2")
  })

  it("takes server = \"\" as no server: the default server, as containerd does", () => {
    const hosts = hostsOf("registry.example.com", `server = ""`)
    expect(hosts.map((host) => [host.role, baseUrlOf(host), host.credentialKey])).toEqual([
      ["server", "https://registry.example.com/v2", "registry.example.com"]
    ])
  })

  it("reads ca, client and skip_verify in each of their forms, paths relative to the file's directory", () => {
    const [one, two, three, server] = hostsOf("registry.example.com", `
      ca = "root-ca.pem"
      skip_verify = false
      [host."https://a.example"]
        ca = ["/etc/certs/a.pem", "b.pem"]
        client = [["/etc/certs/client.cert", "client.key"], ["combined.pem", ""]]
      [host."https://b.example"]
        client = "/etc/certs/client.pem"
        skip_verify = true
      [host."https://c.example"]
        client = ["c1.pem", "/etc/c2.pem"]
    `)
    expect(one?.tls).toEqual({
      caFiles: ["/etc/certs/a.pem", "/h/registry.example.com/b.pem"],
      clientPairs: [
        { cert: "/etc/certs/client.cert", key: "/h/registry.example.com/client.key" },
        { cert: "/h/registry.example.com/combined.pem", key: undefined }
      ],
      skipVerify: false
    })
    expect(two?.tls).toEqual({ caFiles: [], clientPairs: [{ cert: "/etc/certs/client.pem", key: undefined }], skipVerify: true })
    expect(three?.tls.clientPairs).toEqual([{ cert: "/h/registry.example.com/c1.pem", key: undefined }, { cert: "/etc/c2.pem", key: undefined }])
    // Root-level settings belong to the server.
    expect(server?.tls).toEqual({ caFiles: ["/h/registry.example.com/root-ca.pem"], clientPairs: [], skipVerify: false })
  })

  it("reads [header] tables with one or several values per header", () => {
    const [mirror] = hostsOf("docker.io", `
      [host."https://mirror.registry"]
        [host."https://mirror.registry".header]
          x-custom-1 = "custom header"
          X-Custom-2 = ["value1", "value2"]
    `)
    expect(mirror?.headers).toEqual([["x-custom-1", ["custom header"]], ["x-custom-2", ["value1", "value2"]]])
  })

  it("gives the auth blocks only to the server, and looks mirrors' credentials up under their own host", () => {
    const [mirror, server] = hostsOf("docker.io", `[host."https://mirror.example:5000"]`)
    expect([mirror?.staticAuth, mirror?.credentialKey]).toEqual([false, "mirror.example:5000"])
    expect([server?.staticAuth, server?.credentialKey]).toEqual([true, "docker.io"])
    const [, explicit] = hostsOf("docker.io", `server = "https://hub-proxy.example"\n[host."https://m.example"]`)
    expect([explicit?.host, explicit?.staticAuth, explicit?.credentialKey]).toEqual(["hub-proxy.example", true, "hub-proxy.example"])
  })

  it("reports keys it does not act on, and refuses what it cannot use, naming the key", () => {
    expect(parse(`dial_timeout = "1s"\n[host."https://m"]\nproxy = "http://p:8080"\n`).ignored).toEqual(["host.\"https://m\".proxy", "dial_timeout"])
    expect(parseError(`[host."https://m"]\ncapabilities = ["pul"]`)).toBe(`host."https://m".capabilities: unknown capability "pul" (use "pull", "resolve" or "push")`)
    expect(parseError(`capabilities = "pull"\nskip_verify = "yes"`)).toBe("skip_verify must be true or false, not a string")
    expect(parseError(`server = 5000`)).toBe("server must be a string, not a number")
    expect(parseError(`server = true`)).toBe("server must be a string, not a boolean")
    expect(parseError(`skip_verify = "yes"`)).toBe("skip_verify must be true or false, not a string")
    expect(parseError(`[host."https://m"]\nca = 1`)).toBe(`host."https://m".ca must be a string or an array of strings, not a number`)
    expect(parseError(`[host."https://m"]\nclient = [["a"]]`)).toBe(`host."https://m".client: each entry must be a file or a [certificate, key] pair of files`)
    expect(parseError(`[host."https://m".header]\n"bad name" = "x"`)).toContain(`"bad name" is not a valid HTTP header name`)
    expect(parseError(`[host."https://m".header]\nx-a = "line\\r\\nInjected: 1"`)).toContain("cannot hold control characters")
    expect(parseError(`server = "https://user:secret@registry.example"`)).toContain("holds credentials")
    expect(parseError(`server = "https://user:secret@registry.example"`)).not.toContain("secret")
    expect(parseError(`server = "ftp://registry.example"`)).toContain("is not an http:// or https:// URL")
    expect(parseError(`[host."https://"]`)).toContain("is not a URL")
    expect(parseError(`server = "https://r.example/?a=b"`)).toContain("may not have a query")
  })

  it("reports server and host written inside a [host] entry as ignored (they mean something at the root only)", () => {
    expect(parse(`[host."https://m"]\nserver = "https://s"\nhost = "x"\n`).ignored).toEqual([`host."https://m".server`, `host."https://m".host`])
  })

  it("says which key holds a value of the wrong type, and what it holds", () => {
    expect(parseError(`skip_verify = ["true"]`)).toBe("skip_verify must be true or false, not an array")
    expect(parseError(`server = { url = "https://r.example" }`)).toBe("server must be a string, not a table")
    expect(parseError(`[host."https://m"]\noverride_path = "yes"`)).toBe(`host."https://m".override_path must be true or false, not a string`)
    expect(parseError(`ca = ["a.pem", 1]`)).toBe("ca must be a string or an array of strings, not an array")
    expect(parseError(`client = 5`)).toBe("client must be a file, an array of files or an array of [certificate, key] pairs, not a number")
    expect(parseError(`client = [["client.cert", 1]]`)).toBe("client: each entry must be a file or a [certificate, key] pair of files")
    expect(parseError(`header = "x-a: 1"`)).toBe("header must be a table of header names, not a string")
    expect(parseError(`header = ["x-a"]`)).toBe("header must be a table of header names, not an array")
    expect(parseError(`header = 1979-05-27T07:32:00Z`)).toBe("header must be a table of header names, not a date")
    expect(parseError(`[header]\nx-a = 1`)).toBe("header.x-a must be a string or an array of strings, not a number")
    expect(parseError(`[host."https://m".header]\nx-a = [1]`)).toBe(`host."https://m".header.x-a must be a string or an array of strings, not an array`)
    expect(parseError(`host = "https://m"`)).toBe(`host must be a table of [host."https://…"] entries`)
    expect(parseError(`[host]\n"https://m" = 1`)).toBe(`host."https://m" must be a table`)
  })

  it("refuses a server URL it would have to guess about, with the message the operator sees", () => {
    expect(parseError(`server = "ftp://registry.example"`)).toBe(`server: "ftp://registry.example" is not an http:// or https:// URL`)
    const credentials = `server: "https://…@registry.example" holds credentials; credentials belong in an auth block, config.json or a credential helper`
    expect(parseError(`server = "https://user@registry.example"`)).toBe(credentials)
    expect(parseError(`server = "https://:secret@registry.example"`)).toBe(credentials)
    expect(parseError(`server = "https://r.example/#top"`)).toBe(`server: "https://r.example/#top" may not have a query or a fragment`)
    expect(parseError(`server = "https://r.example"\nserver = "https://s"`))
      .toBe("not valid TOML: trying to redefine an already defined table or value (line 2, column 1)")
  })
})

describe("the hosts of a namespace without configuration", () => {
  it("are the default server: Docker Hub's API host, plain HTTP for loopback and insecure registries, else HTTPS", () => {
    const only = (domain: string, insecure: ReadonlyArray<string> = []) => {
      const { hosts } = namespaceHosts(domain, { _tag: "None" }, insecure)
      expect(hosts).toHaveLength(1)
      return baseUrlOf(hosts[0]!)
    }
    expect(only("docker.io")).toBe("https://registry-1.docker.io/v2")
    expect(only("127.0.0.1:5000")).toBe("http://127.0.0.1:5000/v2")
    expect(only("localhost:5000")).toBe("http://localhost:5000/v2")
    expect(only("registry.internal:5000", ["registry.internal"])).toBe("http://registry.internal:5000/v2")
    expect(only("registry.internal:5000")).toBe("https://registry.internal:5000/v2")
    expect(only("docker.io", ["registry-1.docker.io"])).toBe("https://registry-1.docker.io/v2")
  })

  it("a loopback default server is HTTPS once a hosts.toml gives it any TLS setting (ca, client or skip_verify)", () => {
    const server = (text: string) => baseUrlOf(hostsOf("127.0.0.1:5000", text).at(-1)!)
    expect(server(`capabilities = ["pull"]`)).toBe("http://127.0.0.1:5000/v2")
    expect(server(`ca = "ca.pem"`)).toBe("https://127.0.0.1:5000/v2")
    expect(server(`client = "client.pem"`)).toBe("https://127.0.0.1:5000/v2")
    expect(server(`skip_verify = true`)).toBe("https://127.0.0.1:5000/v2")
  })

  it("with Docker's certificate files: CAs, client pairs (a .cert without .key holds its key), and HTTPS even on loopback", () => {
    const tls = legacyTlsSettings("/d/127.0.0.1:5002", ["client.key", "ca.crt", "client.cert", "solo.cert", "notes.txt"])
    expect(tls).toEqual({
      caFiles: ["/d/127.0.0.1:5002/ca.crt"],
      clientPairs: [
        { cert: "/d/127.0.0.1:5002/client.cert", key: "/d/127.0.0.1:5002/client.key" },
        { cert: "/d/127.0.0.1:5002/solo.cert", key: undefined }
      ],
      skipVerify: false
    })
    expect(namespaceHosts("127.0.0.1:5002", { _tag: "CertificateFiles", dir: "/d/127.0.0.1:5002", tls }, [])).toEqual({
      domain: "127.0.0.1:5002",
      source: { _tag: "CertificateFiles", dir: "/d/127.0.0.1:5002" },
      hosts: [{
        scheme: "https",
        host: "127.0.0.1:5002",
        path: "/v2",
        capabilities: ["pull", "resolve", "push"],
        tls: {
          caFiles: ["/d/127.0.0.1:5002/ca.crt"],
          clientPairs: [
            { cert: "/d/127.0.0.1:5002/client.cert", key: "/d/127.0.0.1:5002/client.key" },
            { cert: "/d/127.0.0.1:5002/solo.cert", key: undefined }
          ],
          skipVerify: false
        },
        headers: [],
        role: "server",
        credentialKey: "127.0.0.1:5002",
        staticAuth: true
      }],
      ignored: []
    })
  })

  it("takes Docker's certificate files in file-name order (containerd reads them with os.ReadDir, which sorts)", () => {
    expect(legacyTlsSettings("/d/r", ["b.crt", "a.crt", "z.cert", "y.cert", "z.key"])).toEqual({
      caFiles: ["/d/r/a.crt", "/d/r/b.crt"],
      clientPairs: [{ cert: "/d/r/y.cert", key: undefined }, { cert: "/d/r/z.cert", key: "/d/r/z.key" }],
      skipVerify: false
    })
  })

  it("a hosts.toml without server ends with the default server, which can do everything at /v2", () => {
    const hosts = hostsOf("127.0.0.1:5000", `capabilities = ["pull"]\n[host."http://127.0.0.1:5999"]`)
    expect(hosts.map((host) => [host.role, baseUrlOf(host), host.capabilities.length])).toEqual([
      ["mirror", "http://127.0.0.1:5999/v2", 3],
      ["server", "http://127.0.0.1:5000/v2", 3]
    ])
  })
})

describe("API URLs", () => {
  const host = (text: string, domain: string) => hostsOf(domain, text)[0]!
  it("carry ns=<domain> to every host but the domain's own (Docker Hub's API host counts as its own)", () => {
    const mirror = host(`[host."http://127.0.0.1:5000"]`, "docker.io")
    expect(apiUrl(mirror, "docker.io", "library/busybox", "manifests/latest").href)
      .toBe("http://127.0.0.1:5000/v2/library/busybox/manifests/latest?ns=docker.io")
    const hub = namespaceHosts("docker.io", { _tag: "None" }, []).hosts[0]!
    expect(apiUrl(hub, "docker.io", "library/busybox", "manifests/latest").search).toBe("")
    const own = namespaceHosts("r.example", { _tag: "None" }, []).hosts[0]!
    expect(apiUrl(own, "r.example", "a/b", "blobs/sha256:00").href).toBe("https://r.example/v2/a/b/blobs/sha256:00")
    const overridden = host(`[host."https://n.example/api/upstream"]\noverride_path = true`, "r.example")
    expect(apiUrl(overridden, "r.example", "a/b", "manifests/v1").href).toBe("https://n.example/api/upstream/a/b/manifests/v1?ns=r.example")
    // Docker Hub's API host is the domain's own for docker.io only; as another namespace's mirror it is told the namespace.
    const hubAsMirror = host(`[host."https://registry-1.docker.io"]`, "ghcr.io")
    expect(apiUrl(hubAsMirror, "ghcr.io", "a/b", "manifests/v1").href).toBe("https://registry-1.docker.io/v2/a/b/manifests/v1?ns=ghcr.io")
  })
})

describe("every host failed", () => {
  const h = (url: string, role: RegistryHost["role"]): RegistryHost => ({
    ...namespaceHosts("docker.io", { _tag: "None" }, []).hosts[0]!,
    scheme: url.startsWith("http:") ? "http" : "https",
    host: new URL(url).host,
    role
  })
  it("names each host in order with what it did, with the last host's reason", () => {
    const error = allHostsFailed("docker.io", "docker.io/library/busybox:latest", [
      { host: h("http://127.0.0.1:5999", "mirror"), error: new RegistryError({ reason: "Unreachable", message: `cannot reach registry 127.0.0.1:5999 (ECONNREFUSED); this error is temporary; the pull can be retried` }), skipped: false },
      { host: h("https://m2.example", "mirror"), error: new RegistryError({ reason: "Timeout", message: `registry m2.example did not answer within 30 seconds; this error is temporary; the pull can be retried` }), skipped: true },
      { host: h("https://registry-1.docker.io", "server"), error: new RegistryError({ reason: "ManifestUnknown", message: "manifest unknown: docker.io/library/busybox:latest" }), skipped: false }
    ])
    expect(error.reason).toBe("ManifestUnknown")
    expect(error.message).toBe(
      "no host of docker.io could serve docker.io/library/busybox:latest; tried in order: " +
        "mirror http://127.0.0.1:5999/v2: cannot reach registry 127.0.0.1:5999 (ECONNREFUSED); " +
        "mirror https://m2.example/v2: registry m2.example did not answer within 30 seconds (earlier in this pull, so not asked again); " +
        "server https://registry-1.docker.io/v2: manifest unknown: docker.io/library/busybox:latest"
    )
  })

  it("keeps the temporary hint, once, at the end when the last host's failure is temporary", () => {
    const error = allHostsFailed("docker.io", "docker.io/library/busybox:latest", [
      { host: h("https://m.example", "mirror"), error: new RegistryError({ reason: "ManifestUnknown", message: "manifest unknown: docker.io/library/busybox:latest" }), skipped: false },
      { host: h("https://registry-1.docker.io", "server"), error: new RegistryError({ reason: "Timeout", message: `registry registry-1.docker.io did not answer within 30 seconds; this error is temporary; the pull can be retried` }), skipped: false }
    ])
    expect(error.reason).toBe("Timeout")
    expect(error.message).toBe(
      "no host of docker.io could serve docker.io/library/busybox:latest; tried in order: " +
        "mirror https://m.example/v2: manifest unknown: docker.io/library/busybox:latest; " +
        "server https://registry-1.docker.io/v2: registry registry-1.docker.io did not answer within 30 seconds; " +
        "this error is temporary; the pull can be retried"
    )
  })
})

describe("no host has a capability", () => {
  it("is a protocol error naming the capabilities and the hosts.toml that withholds them", () => {
    const namespace = namespaceHosts("docker.io", {
      _tag: "HostsFile",
      file: "/h/docker.io/hosts.toml",
      document: parse(`server = "https://registry-1.docker.io"\ncapabilities = ["pull"]\n[host."https://m.example"]\ncapabilities = ["pull"]`, "/h/docker.io")
    }, [])
    const both = noHostCan(namespace, ["pull", "resolve"], "docker.io/library/busybox:latest")
    expect([both.reason, both.message]).toEqual([
      "Protocol",
      `no host configured for docker.io has the "pull" and "resolve" capabilities, needed to pull docker.io/library/busybox:latest (see capabilities in /h/docker.io/hosts.toml)`
    ])
    expect(noHostCan(namespace, ["resolve"], "docker.io/library/busybox:latest").message).toBe(
      `no host configured for docker.io has the "resolve" capability, needed to pull docker.io/library/busybox:latest (see capabilities in /h/docker.io/hosts.toml)`
    )
  })
})

describe("TLS failure messages", () => {
  const failure = (code: string, extra: Partial<TlsFailure> = {}): string =>
    tlsFailureMessage({
      host: "127.0.0.1:5002",
      subject: "127.0.0.1:5002/test/busybox:latest",
      code,
      detail: "808C:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/rec_layer_s3.c:1601:\n",
      peer: {
        subject: "CN=127.0.0.1",
        issuer: "CN=test CA",
        validFrom: "2026-01-01T00:00:00Z",
        validTo: "2036-01-01T00:00:00Z",
        subjectAltName: "IP Address:127.0.0.1",
        fingerprint256: "AB:CD"
      },
      hostsFile: "/etc/containerd/certs.d/127.0.0.1:5002/hosts.toml",
      clientCertificateConfigured: false,
      ...extra
    })

  it("say which host, which certificate, and what to write where", () => {
    const untrusted = failure("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    for (const part of ["127.0.0.1:5002", "subject CN=127.0.0.1", "issued by CN=test CA", "SHA-256 AB:CD", "/etc/containerd/certs.d/127.0.0.1:5002/hosts.toml", "ca = ", "skip_verify = true"]) {
      expect(untrusted).toContain(part)
    }
    expect(failure("CERT_HAS_EXPIRED")).toContain("expired")
    expect(failure("ERR_TLS_CERT_ALTNAME_INVALID")).toContain("for other names than 127.0.0.1")
    expect(failure("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE")).toContain("asks for a client certificate: name it and its key in /etc/containerd/certs.d/127.0.0.1:5002/hosts.toml as client = ")
    expect(failure("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", { clientCertificateConfigured: true })).toContain("refused the client certificate")
    expect(failure("ERR_SSL_WRONG_VERSION_NUMBER")).toContain(`server = "http://127.0.0.1:5002"`)
    expect(failure("UNABLE_TO_VERIFY_LEAF_SIGNATURE", { hostsFile: undefined })).toContain("set the driver's hosts_dir")
  })

  it("keep OpenSSL's reason, without its error queue and source location", () => {
    expect(opensslReason("808C:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../x.c:1601:SSL alert number 42\n"))
      .toBe("sslv3 alert bad certificate")
    expect(opensslReason("unable to verify the first certificate")).toBe("unable to verify the first certificate")
  })

  it("tell a plain-HTTP request to an HTTPS registry apart, and say how to make it HTTPS", () => {
    expect(isPlainHttpToHttps(400, "Client sent an HTTP request to an HTTPS server.\n")).toBe(true)
    expect(isPlainHttpToHttps(400, "{\"errors\":[]}")).toBe(false)
    expect(speaksHttpsMessage({ host: "127.0.0.1:5002", subject: "x", hostsFile: "/h/127.0.0.1:5002/hosts.toml" }))
      .toContain(`server = "https://127.0.0.1:5002" in /h/127.0.0.1:5002/hosts.toml`)
  })
})
