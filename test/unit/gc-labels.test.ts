// The labels that keep a pulled image alive in containerd's garbage collector (src/image/GcLabels.ts). Expected
// keys are containerd's own: images.ChildGCLabels and SetChildrenMappedLabels (images/mediatypes.go,
// images/handlers.go), appendDistributionSourceLabel (remotes/handlers.go), and the 4096-byte limit on a label's
// key and value together (labels/validate.go).
import { describe, expect, it } from "vitest"
import { childLabels, distributionSource, missingLabels } from "../../src/image/GcLabels.js"

const child = (mediaType: string, digest: string) => ({ mediaType, digest, size: 1 })

describe("GC reference labels for a parent's children", () => {
  it("an index numbers its manifests m.0, m.1 (Docker's and OCI's alike); other children get a bare number", () => {
    expect(childLabels([
      child("application/vnd.docker.distribution.manifest.v2+json", "sha256:a"),
      child("application/vnd.oci.image.manifest.v1+json", "sha256:b"),
      child("application/vnd.oci.image.index.v1+json", "sha256:c"),
      child("application/vnd.example.unknown", "sha256:d")
    ])).toEqual({
      "containerd.io/gc.ref.content.m.0": "sha256:a",
      "containerd.io/gc.ref.content.m.1": "sha256:b",
      "containerd.io/gc.ref.content.0": "sha256:c",
      "containerd.io/gc.ref.content.1": "sha256:d"
    })
  })

  it("a manifest names its config and numbers its layers, OCI's and Docker's, whatever their compression", () => {
    expect(childLabels([
      child("application/vnd.oci.image.config.v1+json", "sha256:c"),
      child("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:l0"),
      child("application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:l1"),
      child("application/vnd.oci.image.layer.v1.tar+zstd", "sha256:l2"),
      child("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "sha256:l3")
    ])).toEqual({
      "containerd.io/gc.ref.content.config": "sha256:c",
      "containerd.io/gc.ref.content.l.0": "sha256:l0",
      "containerd.io/gc.ref.content.l.1": "sha256:l1",
      "containerd.io/gc.ref.content.l.2": "sha256:l2",
      "containerd.io/gc.ref.content.l.3": "sha256:l3"
    })
  })

  it("Docker's config, plugin and checkpoint configs are configs; a media type merely containing a layer prefix is not a layer", () => {
    expect(childLabels([child("application/vnd.docker.container.image.v1+json", "sha256:d")])).toEqual({ "containerd.io/gc.ref.content.config": "sha256:d" })
    expect(childLabels([child("application/vnd.docker.plugin.v1+json", "sha256:p")])).toEqual({ "containerd.io/gc.ref.content.config": "sha256:p" })
    expect(childLabels([child("application/vnd.containerd.container.checkpoint.config.v1+proto", "sha256:k")])).toEqual({
      "containerd.io/gc.ref.content.config": "sha256:k"
    })
    expect(childLabels([
      child("x-application/vnd.oci.image.layer.v1.tar", "sha256:x"),
      child("x-application/vnd.docker.image.rootfs.diff.tar", "sha256:y")
    ])).toEqual({ "containerd.io/gc.ref.content.0": "sha256:x", "containerd.io/gc.ref.content.1": "sha256:y" })
  })

  it("a second config is numbered, as containerd numbers any key from its second use, so neither is lost", () => {
    expect(childLabels([
      child("application/vnd.oci.image.config.v1+json", "sha256:c0"),
      child("application/vnd.oci.image.config.v1+json", "sha256:c1")
    ])).toEqual({ "containerd.io/gc.ref.content.config": "sha256:c0", "containerd.io/gc.ref.content.config1": "sha256:c1" })
  })

  it("no children, no labels", () => {
    expect(childLabels([])).toEqual({})
  })
})

describe("the distribution-source label", () => {
  it("is keyed by the registry's host name without its port", () => {
    expect(distributionSource("registry.example.com:5000", "team/app")).toEqual({ "containerd.io/distribution.source.registry.example.com": "team/app" })
    expect(distributionSource("[::1]:5000", "app")).toEqual({ "containerd.io/distribution.source.::1": "app" })
  })

  it("adds the repository to what the blob already has, sorted, once, dropping empty entries", () => {
    const key = "containerd.io/distribution.source.docker.io"
    expect(distributionSource("docker.io", "library/busybox", { [key]: "team/x,library/alpine" })).toEqual({ [key]: "library/alpine,library/busybox,team/x" })
    expect(distributionSource("docker.io", "team/x", { [key]: "team/x,library/alpine" })).toEqual({ [key]: "library/alpine,team/x" })
    expect(distributionSource("docker.io", "b", { [key]: ",a,,c," })).toEqual({ [key]: "a,b,c" })
    expect(distributionSource("docker.io", "a", { other: "z" })).toEqual({ [key]: "a" })
  })

  it("is left off when key and value together pass containerd's 4096 bytes", () => {
    const key = "containerd.io/distribution.source.r" // 35 bytes
    expect(key.length).toBe(35)
    expect(distributionSource("r", "a".repeat(4096 - 35))).toEqual({ [key]: "a".repeat(4061) })
    expect(distributionSource("r", "a".repeat(4096 - 34))).toEqual({})
    // Merged with what it had: the joined list counts, not the new repository alone.
    expect(distributionSource("r", "b", { [key]: "a".repeat(4096 - 35 - 2 + 1) })).toEqual({})
    expect(distributionSource("r", "b", { [key]: "a".repeat(4096 - 35 - 2) })).toEqual({ [key]: `${"a".repeat(4059)},b` })
  })
})

describe("the labels a blob still lacks", () => {
  it("are those missing or with another value", () => {
    expect(missingLabels({ a: "1", b: "2", extra: "x" }, { a: "1", b: "3", c: "4" })).toEqual({ b: "3", c: "4" })
    expect(missingLabels({ a: "1" }, { a: "1" })).toEqual({})
    expect(missingLabels({}, {})).toEqual({})
  })
})
