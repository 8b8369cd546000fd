/**
 * Finding one file in an image's merged root filesystem without mounting it: the layers are scanned from the top
 * down, and each layer's tar entries decide whether the path is there, deleted by a whiteout, hidden by an opaque
 * directory, replaced by a non-directory, or redirected by a symlink (or hard link) — else the next lower layer
 * is asked. Pure: `scanner` folds one layer's entries into a verdict; the caller drives the layers.
 */
import * as Tar from "./Tar.js"

export type LayerVerdict =
  /** The path is a regular file in this layer (data collected). */
  | { readonly _tag: "Found"; readonly data: Uint8Array }
  /**
   * Look up `path` instead: a symlink at the path or at one of its parent directories (resolve from the top
   * layer), or a hard link (its target is a member of this same layer's archive).
   */
  | { readonly _tag: "Redirect"; readonly path: string; readonly sameLayer: boolean }
  /** The path exists here but is not a regular file (directory, device, ...). */
  | { readonly _tag: "NotAFile"; readonly type: Tar.EntryType }
  /** Deleted (whiteout), hidden (opaque parent) or shadowed (a parent is a file here): absent from the image. */
  | { readonly _tag: "Deleted" }
  /** Nothing about the path in this layer: ask the layer below. */
  | { readonly _tag: "Absent" }

export interface LayerScanner {
  /** Whether the decoder should collect this entry's data. */
  readonly wantData: (header: Tar.TarHeader) => boolean
  readonly observe: (entry: Tar.TarEntry) => void
  readonly verdict: () => LayerVerdict
}

const ancestorsOf = (path: string): ReadonlyArray<string> => {
  const parts = path.split("/")
  const out: Array<string> = []
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"))
  return out
}

const isAncestorOrSelf = (candidate: string, path: string): boolean =>
  candidate === "" || candidate === path || path.startsWith(`${candidate}/`)

/** Folds one layer's entries into what that layer says about `path` (a normalised path). */
export const scanner = (path: string): LayerScanner => {
  const ancestors = new Set(ancestorsOf(path))
  let found: Tar.TarEntry | undefined
  let deleted = false
  let hidden = false
  let shadowed = false
  let parentLink: { readonly at: string; readonly target: string } | undefined

  const observe = (entry: Tar.TarEntry): void => {
    const { header } = entry
    const whiteout = Tar.whiteoutOf(header.path)
    if (whiteout !== undefined) {
      if (whiteout._tag === "Whiteout" && isAncestorOrSelf(whiteout.target, path)) deleted = true
      if (whiteout._tag === "Opaque" && whiteout.directory !== path && isAncestorOrSelf(whiteout.directory, path)) {
        hidden = true
      }
      return
    }
    if (header.path === path) {
      found = entry
      return
    }
    if (ancestors.has(header.path)) {
      if (header.type === "symlink") {
        // The shallowest symlinked parent decides where the rest of the path lives; a later entry of the same
        // name replaces an earlier one, as extracting the archive would.
        if (parentLink === undefined || parentLink.at.length >= header.path.length) {
          parentLink = { at: header.path, target: header.linkName }
        }
      } else if (header.type !== "directory") {
        shadowed = true
      } else if (parentLink?.at === header.path) {
        parentLink = undefined
      }
    }
  }

  const verdict = (): LayerVerdict => {
    if (parentLink !== undefined) {
      const rest = path.slice(parentLink.at.length + 1)
      return { _tag: "Redirect", path: Tar.normalizePath(`${Tar.resolveLink(parentLink.at, parentLink.target)}/${rest}`), sameLayer: false }
    }
    if (found !== undefined) {
      const { header } = found
      switch (header.type) {
        case "file":
          return { _tag: "Found", data: found.data ?? new Uint8Array(0) }
        case "symlink":
          return { _tag: "Redirect", path: Tar.resolveLink(header.path, header.linkName), sameLayer: false }
        case "hardlink":
          return { _tag: "Redirect", path: header.linkName, sameLayer: true }
        default:
          return { _tag: "NotAFile", type: header.type }
      }
    }
    // Whiteouts and opaque markers only act on lower layers, so an entry in this layer (above) wins over them.
    if (shadowed || deleted || hidden) return { _tag: "Deleted" }
    return { _tag: "Absent" }
  }

  return { wantData: (header) => header.path === path && header.type === "file", observe, verdict }
}

/** Bound on symlink/hard-link hops (Linux's MAXSYMLINKS is 40). */
export const MAX_REDIRECTS = 40
