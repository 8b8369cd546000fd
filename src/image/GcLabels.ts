/**
 * The labels that make containerd's garbage collector keep a pulled image alive (containerd/containerd
 * docs/garbage-collection.md, images/mediatypes.go ChildGCLabels): each parent blob references its children
 * (`containerd.io/gc.ref.content.*`), the config references the unpacked snapshot chain
 * (`containerd.io/gc.ref.snapshot.<snapshotter>`), plus the informational labels ctr/nerdctl set
 * (`containerd.io/distribution.source.<host>`, `containerd.io/uncompressed`, `containerd.io/snapshot.ref`).
 */
import type { Descriptor } from "./Manifest.js"
import { MediaType } from "./Manifest.js"
import { splitHostPort } from "./RegistryProtocol.js"

export const GC_REF_CONTENT = "containerd.io/gc.ref.content"
export const UNCOMPRESSED = "containerd.io/uncompressed"
export const SNAPSHOT_REF = "containerd.io/snapshot.ref"
const DISTRIBUTION_SOURCE = "containerd.io/distribution.source"
/** containerd rejects labels whose key and value together exceed this. */
export const MAX_LABEL_BYTES = 4096

/** `containerd.io/gc.ref.snapshot.<snapshotter>`: on the config blob, value = top chain ID. */
export const snapshotLabel = (snapshotter: string): string => `containerd.io/gc.ref.snapshot.${snapshotter}`

const configMediaTypes = new Set<string>([
  MediaType.dockerConfig,
  MediaType.ociConfig,
  "application/vnd.docker.plugin.v1+json",
  "application/vnd.containerd.container.checkpoint.config.v1+proto"
])

const isLayer = (mediaType: string): boolean =>
  mediaType.startsWith("application/vnd.oci.image.layer.") ||
  mediaType.startsWith("application/vnd.docker.image.rootfs.")

/** The key prefix Go's `images.ChildGCLabels` assigns to a child; a trailing `.` means "append a counter". */
const childPrefix = (mediaType: string): string => {
  if (configMediaTypes.has(mediaType)) return `${GC_REF_CONTENT}.config`
  if (mediaType === MediaType.dockerManifest || mediaType === MediaType.ociManifest) return `${GC_REF_CONTENT}.m.`
  if (isLayer(mediaType)) return `${GC_REF_CONTENT}.l.`
  return `${GC_REF_CONTENT}.`
}

/**
 * GC reference labels a parent carries for its children, numbered per key prefix in child order: index →
 * `m.<i>` per manifest; manifest → `config` and `l.<i>` per layer; anything else `<i>`. A key without a trailing
 * `.` is numbered from its second use on (`config1`), as containerd's images.SetChildrenMappedLabels does.
 */
export const childLabels = (children: ReadonlyArray<Descriptor>): Record<string, string> => {
  const counters = new Map<string, number>()
  const labels: Record<string, string> = {}
  for (const child of children) {
    const prefix = childPrefix(child.mediaType)
    const n = counters.get(prefix) ?? 0
    counters.set(prefix, n + 1)
    labels[n > 0 || prefix.endsWith(".") ? `${prefix}${n}` : prefix] = child.digest
  }
  return labels
}

/** `containerd.io/distribution.source.<hostname>`: the registry host without its port (Go's `url.Hostname()`). */
export const distributionSourceKey = (domain: string): string =>
  `${DISTRIBUTION_SOURCE}.${splitHostPort(domain).hostname}`

/**
 * The distribution-source label for a blob fetched from `repository` on `domain`, merged with the value it
 * already has (a sorted, de-duplicated comma-separated list); empty when the label would be too long.
 */
export const distributionSource = (
  domain: string,
  repository: string,
  existing: Readonly<Record<string, string>> = {}
): Record<string, string> => {
  const key = distributionSourceKey(domain)
  const current = existing[key]
  const repositories = new Set((current ?? "").split(",").filter((entry) => entry !== ""))
  repositories.add(repository)
  const value = [...repositories].sort().join(",")
  return key.length + value.length > MAX_LABEL_BYTES ? {} : { [key]: value }
}

/** The labels of `wanted` that `existing` lacks or holds with another value. */
export const missingLabels = (
  existing: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>
): Record<string, string> => {
  const missing: Record<string, string> = {}
  for (const [key, value] of Object.entries(wanted)) if (existing[key] !== value) missing[key] = value
  return missing
}
