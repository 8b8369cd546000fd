/**
 * FakeContainerd's garbage collector: mark and sweep over one namespace with containerd's roots and references
 * (containerd/containerd docs/garbage-collection.md): unexpired leases and their resources, images' targets, containers' snapshots and
 * objects labelled containerd.io/gc.root are roots; content labels containerd.io/gc.ref.content* and
 * containerd.io/gc.ref.snapshot.<snapshotter> and snapshot parents are references. Unmarked blobs and snapshots
 * are removed. Like the daemon it runs when asked to (a `sync` delete, or the control's collectGarbage), so
 * tests see deterministic results.
 */
import { gcExpireLabel } from "../containerd/derived.js"
import type { NamespaceState } from "./world.js"

const gcRoot = "containerd.io/gc.root"
const gcFlat = "containerd.io/gc.flat"
const contentRef = "containerd.io/gc.ref.content"
const snapshotRef = "containerd.io/gc.ref.snapshot."

export const collectGarbage = (ns: NamespaceState, now: Date): void => {
  const liveContent = new Set<string>()
  const liveSnapshots = new Set<string>() // "<snapshotter>/<key>"

  const markSnapshot = (snapshotter: string, key: string, follow: boolean): void => {
    const id = `${snapshotter}/${key}`
    const record = ns.snapshots.get(snapshotter)?.get(key)
    if (record === undefined || liveSnapshots.has(id)) return
    liveSnapshots.add(id)
    if (record.info.parent !== "") markSnapshot(snapshotter, record.info.parent, true)
    if (follow) followLabels(record.info.labels)
  }
  const markContent = (digest: string, follow: boolean): void => {
    const blob = ns.content.get(digest)
    if (blob === undefined || liveContent.has(digest)) return
    liveContent.add(digest)
    if (follow) followLabels(blob.info.labels)
  }
  const followLabels = (labels: Readonly<Record<string, string>>): void => {
    for (const [key, value] of Object.entries(labels)) {
      if (key.startsWith(contentRef)) markContent(value, true)
      else if (key.startsWith(snapshotRef)) markSnapshot(key.slice(snapshotRef.length), value, true)
    }
  }

  for (const { lease, resources } of ns.leases.values()) {
    const expire = lease.labels[gcExpireLabel]
    if (expire !== undefined && new Date(expire).getTime() <= now.getTime()) continue
    const follow = lease.labels[gcFlat] === undefined
    for (const resource of resources) {
      if (resource.type === "content") markContent(resource.id, follow)
      else if (resource.type.startsWith("snapshots/")) markSnapshot(resource.type.slice("snapshots/".length), resource.id, follow)
    }
  }
  for (const image of ns.images.values()) {
    if (image.target !== undefined) markContent(image.target.digest, true)
  }
  for (const container of ns.containers.values()) {
    if (container.snapshotKey !== "") markSnapshot(container.snapshotter, container.snapshotKey, true)
  }
  for (const [digest, blob] of ns.content) {
    if (blob.info.labels[gcRoot] !== undefined) markContent(digest, true)
  }
  for (const [snapshotter, snapshots] of ns.snapshots) {
    for (const [key, record] of snapshots) {
      if (record.info.labels[gcRoot] !== undefined) markSnapshot(snapshotter, key, true)
    }
  }

  for (const digest of [...ns.content.keys()]) {
    if (!liveContent.has(digest)) ns.content.delete(digest)
  }
  for (const [snapshotter, snapshots] of ns.snapshots) {
    for (const key of [...snapshots.keys()]) {
      if (!liveSnapshots.has(`${snapshotter}/${key}`)) snapshots.delete(key)
    }
  }
}
