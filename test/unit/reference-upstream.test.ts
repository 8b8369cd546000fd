/**
 * src/image/Reference.ts against the test vectors of Docker's own parser, github.com/distribution/reference
 * (reference_test.go and normalize_test.go), restated here as facts in this table's own format. Every input is
 * read the way Docker reads an image name (ParseDockerRef: ParseNormalizedNamed, then a digest wins over a tag),
 * so vectors upstream runs through the bare Parse are given here with the normalisation Docker then applies
 * (e.g. "test.com:5000", one component, is the repository docker.io/library/test.com with the tag 5000).
 *
 * The driver is stricter than upstream in a few deliberate places (ports 1-65535, hosts a URL can hold, a bare
 * 64-hex string is refused rather than read as an image ID); no upstream vector below depends on those.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Reference from "../../src/image/Reference.js"

const ffff = `sha256:${"f".repeat(64)}`
const sha512 = `sha512:${"f".repeat(128)}`
const hex64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
const dbcc = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
const busybox = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"

interface Parsed {
  readonly domain: string
  readonly path: string
  readonly tag?: string
  readonly digest?: string
}
/** input, then what Docker makes of it: the parts, or "invalid". */
const vectors: ReadonlyArray<readonly [string, Parsed | "invalid"]> = [
  // A first component is a domain when it has a "." or a ":", is "localhost", or has an uppercase letter
  // (normalize.go, splitDockerDomain: "Uppercase namespaces are not allowed, so ... we assume it to be a domain").
  ["test.com/foo", { domain: "test.com", path: "foo" }],
  ["test_com/foo", { domain: "docker.io", path: "test_com/foo" }],
  ["docker/migrator", { domain: "docker.io", path: "docker/migrator" }],
  ["test.com:8080/foo", { domain: "test.com:8080", path: "foo" }],
  ["test-com:8080/foo", { domain: "test-com:8080", path: "foo" }],
  ["test:5000/repo", { domain: "test:5000", path: "repo" }],
  ["xn--n3h.com/foo", { domain: "xn--n3h.com", path: "foo" }],
  ["xn--n3h.com:18080/foo", { domain: "xn--n3h.com:18080", path: "foo" }],
  ["localhost/foo", { domain: "localhost", path: "foo" }],
  ["Docker/docker", { domain: "Docker", path: "docker" }],
  ["DOCKER/docker", { domain: "DOCKER", path: "docker" }],
  ["Foo/bar", { domain: "Foo", path: "bar" }],
  ["FOO/bar", { domain: "FOO", path: "bar" }],
  ["Uppercase/lowercase:tag", { domain: "Uppercase", path: "lowercase", tag: "tag" }],
  // Docker Hub: docker.io by default, index.docker.io folded into it, library/ for one component
  ["foo", { domain: "docker.io", path: "library/foo" }],
  ["debian", { domain: "docker.io", path: "library/debian" }],
  ["library/debian", { domain: "docker.io", path: "library/debian" }],
  ["docker/docker", { domain: "docker.io", path: "docker/docker" }],
  ["docker.io/foo", { domain: "docker.io", path: "library/foo" }],
  ["docker.io/library/foo", { domain: "docker.io", path: "library/foo" }],
  ["docker.io/library/foo/bar", { domain: "docker.io", path: "library/foo/bar" }],
  ["docker.io/docker/docker", { domain: "docker.io", path: "docker/docker" }],
  ["index.docker.io/docker/docker", { domain: "docker.io", path: "docker/docker" }],
  ["index.docker.io/library/debian", { domain: "docker.io", path: "library/debian" }],
  ["index.docker.io/debian", { domain: "docker.io", path: "library/debian" }],
  ["index.docker.io/fooo/bar", { domain: "docker.io", path: "fooo/bar" }],
  ["library/foo/bar", { domain: "docker.io", path: "library/foo/bar" }],
  ["store/foo/bar", { domain: "docker.io", path: "store/foo/bar" }],
  ["other/library", { domain: "docker.io", path: "other/library" }],
  ["ubuntu-12.04-base", { domain: "docker.io", path: "library/ubuntu-12.04-base" }],
  // other registries get no library/ prefix
  ["127.0.0.1:5000/debian", { domain: "127.0.0.1:5000", path: "debian" }],
  ["127.0.0.1:5000/library/debian", { domain: "127.0.0.1:5000", path: "library/debian" }],
  ["127.0.0.1:8000/private/moonbase", { domain: "127.0.0.1:8000", path: "private/moonbase" }],
  ["example.com/privatebase", { domain: "example.com", path: "privatebase" }],
  ["example.com:8000/private/moonbase", { domain: "example.com:8000", path: "private/moonbase" }],
  ["sub-dom1.foo.com/bar/baz/quux:some-long-tag", { domain: "sub-dom1.foo.com", path: "bar/baz/quux", tag: "some-long-tag" }],
  ["b.gcr.io/test.example.com/my-app:test.example.com", { domain: "b.gcr.io", path: "test.example.com/my-app", tag: "test.example.com" }],
  ["xn--n3h.com/myimage:xn--n3h.com", { domain: "xn--n3h.com", path: "myimage", tag: "xn--n3h.com" }],
  // one component: a ":" is the tag, even when it looks like a port; an address is a repository name
  ["test.com:tag", { domain: "docker.io", path: "library/test.com", tag: "tag" }],
  ["test.com:5000", { domain: "docker.io", path: "library/test.com", tag: "5000" }],
  ["foo_bar.com:8080", { domain: "docker.io", path: "library/foo_bar.com", tag: "8080" }],
  ["foo/foo_bar.com:8080", { domain: "docker.io", path: "foo/foo_bar.com", tag: "8080" }],
  ["192.168.1.1", { domain: "docker.io", path: "library/192.168.1.1" }],
  ["192.168.1.1:tag", { domain: "docker.io", path: "library/192.168.1.1", tag: "tag" }],
  ["192.168.0.1:80", { domain: "docker.io", path: "library/192.168.0.1", tag: "80" }],
  ["192.168.1.1/repo", { domain: "192.168.1.1", path: "repo" }],
  ["192.168.0.1:8/debian", { domain: "192.168.0.1:8", path: "debian" }],
  ["192.168.1.1:5000/repo:5050", { domain: "192.168.1.1:5000", path: "repo", tag: "5050" }],
  // IPv6 in brackets, with or without a port; never bare, never with a zone
  ["[2001:db8::1]/repo", { domain: "[2001:db8::1]", path: "repo" }],
  ["[2001:db8:1:2:3:4:5:6]/repo:tag", { domain: "[2001:db8:1:2:3:4:5:6]", path: "repo", tag: "tag" }],
  ["[2001:db8::1]:5000/repo", { domain: "[2001:db8::1]:5000", path: "repo" }],
  ["[2001:db8::]:5000/repo", { domain: "[2001:db8::]:5000", path: "repo" }],
  ["[::1]:5000/repo", { domain: "[::1]:5000", path: "repo" }],
  ["[fc00::1]:5000/docker/docker", { domain: "[fc00::1]:5000", path: "docker/docker" }],
  ["[fc00:1:2:3:4:5:6:7]:5000/library/debian", { domain: "[fc00:1:2:3:4:5:6:7]:5000", path: "library/debian" }],
  ["[2001:db8::1]", "invalid"],
  ["[2001:db8::1]:5000", "invalid"],
  ["[2001:db8::1]:tag", "invalid"],
  ["[fc00::1]", "invalid"],
  ["fc00::1:5000/debian", "invalid"],
  ["[fe80::1%eth0]:5000/repo", "invalid"],
  ["[fe80::1%@invalidzone]:5000/repo", "invalid"],
  ["[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid"],
  // tags: case kept, [A-Za-z0-9_.-], not first . or -
  ["lowercase:Uppercase", { domain: "docker.io", path: "library/lowercase", tag: "Uppercase" }],
  ["test.com:8000/foo:TAG5", { domain: "test.com:8000", path: "foo", tag: "TAG5" }],
  // digests: a digest wins over a tag (ParseDockerRef drops the tag from the name it returns)
  [`test:5000/repo@${ffff}`, { domain: "test:5000", path: "repo", digest: ffff }],
  [`test:5000/repo:tag@${ffff}`, { domain: "test:5000", path: "repo", tag: "tag", digest: ffff }],
  [`[2001:db8::1]:5000/repo:tag@${ffff}`, { domain: "[2001:db8::1]:5000", path: "repo", tag: "tag", digest: ffff }],
  [`xn--7o8h.com/myimage:xn--7o8h.com@${sha512}`, { domain: "xn--7o8h.com", path: "myimage", tag: "xn--7o8h.com", digest: sha512 }],
  [`busybox:latest@${busybox}`, { domain: "docker.io", path: "library/busybox", tag: "latest", digest: busybox }],
  [`redis@${dbcc}`, { domain: "docker.io", path: "library/redis", digest: dbcc }],
  [`dmcgowan/myapp@${dbcc}`, { domain: "docker.io", path: "dmcgowan/myapp", digest: dbcc }],
  ["repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid"],
  [`validname@invaliddigest:${"f".repeat(64)}`, "invalid"],
  [`@${ffff}`, "invalid"],
  // names: lowercase components of [a-z0-9] joined by one ".", one or two "_", or any number of "-"
  ["docker-rules/docker", { domain: "docker.io", path: "docker-rules/docker" }],
  ["docker---rules/docker", { domain: "docker.io", path: "docker---rules/docker" }],
  ["dock__er/docker", { domain: "docker.io", path: "dock__er/docker" }],
  ["d/docker", { domain: "docker.io", path: "d/docker" }],
  ["jess/t", { domain: "docker.io", path: "jess/t" }],
  ["thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", {
    domain: "docker.io",
    path: "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"
  }],
  // 63 hex digits are a name; 64 only after a domain (alone they are an image ID)
  ["dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", {
    domain: "docker.io",
    path: "library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9"
  }],
  [`docker.io/${hex64}`, { domain: "docker.io", path: `library/${hex64}` }],
  [hex64, "invalid"],
  // only exactly 64 (ParseNormalizedNamed anchors its identifier pattern): with a tag or a 65th digit it is a name
  [`${hex64}:latest`, { domain: "docker.io", path: `library/${hex64}`, tag: "latest" }],
  [`${hex64}0`, { domain: "docker.io", path: `library/${hex64}0` }],
  ["", "invalid"],
  [":justtag", "invalid"],
  ["Uppercase:tag", "invalid"],
  ["test:5000/Uppercase/lowercase:tag", "invalid"],
  ["docker/Docker", "invalid"],
  ["docker.io/docker/Docker", "invalid"],
  ["https://github.com/docker/docker", "invalid"],
  ["-docker", "invalid"],
  ["-docker/docker", "invalid"],
  ["-docker.io/docker/docker", "invalid"],
  ["docker-/docker", "invalid"],
  ["-docker-/docker", "invalid"],
  ["____/____", "invalid"],
  ["_docker/_docker", "invalid"],
  ["dock..er/docker", "invalid"],
  ["dock_.er/docker", "invalid"],
  ["dock-.er/docker", "invalid"],
  ["docker///docker", "invalid"],
  ["docker.io/docker///docker", "invalid"],
  ["docker/", "invalid"],
  ["aa/asdf$$^/aa", "invalid"],
  // at most 255 characters of domain/path: 128 "a/" components are too many; 127 would fit as upstream's bare
  // Parse reads them (domain "a"), but Docker puts them under docker.io/, 265 characters
  [`${"a/".repeat(128)}a:tag`, "invalid"],
  [`${"a/".repeat(127)}a:tag-puts-this-over-max`, "invalid"],
  [`${"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)}/docker`, "invalid"]
]

describe("distribution/reference's vectors", () => {
  it.each(vectors.map(([input, expected]) => [input, expected] as const))("%j", (input, expected) => {
    const parsed = Reference.parse(input)
    if (expected === "invalid") {
      expect(Either.isLeft(parsed)).toBe(true)
      return
    }
    expect(Either.isRight(parsed)).toBe(true)
    if (Either.isLeft(parsed)) return
    const ref = parsed.right
    expect({ domain: ref.domain, path: ref.path, tag: ref.tag, digest: ref.digest }).toEqual({
      tag: undefined,
      digest: undefined,
      ...expected
    })
    // What is pulled and recorded: the digest when there is one, else the tag, latest by default.
    expect(ref.normalized).toBe(
      `${expected.domain}/${expected.path}${expected.digest !== undefined ? `@${expected.digest}` : `:${expected.tag ?? "latest"}`}`
    )
  })

  // normalize_test.go TestParseRepositoryInfo: the short name Docker shows for each.
  it.each([
    ["docker.io/fooo/bar", "fooo/bar"],
    ["docker.io/library/ubuntu", "ubuntu"],
    ["docker.io/nonlibrary/ubuntu", "nonlibrary/ubuntu"],
    ["127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase"],
    ["example.com:8000/privatebasee", "example.com:8000/privatebasee"],
    ["docker.io/library/ubuntu-12.04-base", "ubuntu-12.04-base"],
    ["docker.io/library/foo/bar", "library/foo/bar"],
    ["Foo/bar", "Foo/bar"],
    ["FOO/bar", "FOO/bar"],
    [`busybox:latest@${busybox}`, `busybox:latest@${busybox}`]
  ])("familiar(%j) is %j", (input, familiar) => {
    expect(Either.map(Reference.parse(input), (ref) => ref.familiar)).toEqual(Either.right(familiar))
  })
})
