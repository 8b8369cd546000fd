// What one layer says about one path (src/image/LayerLookup.ts `scanner`), verdict by verdict, before the
// layered walk in tar.test.ts puts layers together. Whiteout rules: the OCI image-spec's layer.md ("Whiteouts",
// "Opaque Whiteout"); a later entry of the same name in one archive replaces an earlier one, as tar extracts.
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as LayerLookup from "../../src/image/LayerLookup.js"
import * as Tar from "../../src/image/Tar.js"
import { tar, type TarSpec } from "../support/tarWriter.js"

/** The verdict of one layer made of `specs` about `path`, reading data only where the scanner asks for it. */
const verdictOf = (specs: ReadonlyArray<TarSpec>, path: string): LayerLookup.LayerVerdict => {
  const scanner = LayerLookup.scanner(path)
  const decoder = Tar.makeDecoder({ wantData: scanner.wantData })
  for (const entry of Either.getOrThrow(decoder.write(tar(specs)))) scanner.observe(entry)
  return scanner.verdict()
}

/** A Found verdict with its data as text, to compare with what the archive held. */
const asText = (verdict: LayerLookup.LayerVerdict) =>
  verdict._tag === "Found" ? { _tag: "Found", text: Buffer.from(verdict.data).toString("utf8") } : verdict
const found = (text: string) => ({ _tag: "Found", text })

describe("one layer's verdict about a path", () => {
  it("a regular file is found with its data; nothing about the path is absent", () => {
    expect(asText(verdictOf([{ path: "etc", type: "dir" }, { path: "etc/passwd", data: "root" }], "etc/passwd"))).toEqual(found("root"))
    expect(asText(verdictOf([{ path: "etc/passwd", data: "" }], "etc/passwd"))).toEqual(found(""))
    expect(verdictOf([{ path: "etc", type: "dir" }, { path: "etc/group", data: "g" }], "etc/passwd")).toEqual({ _tag: "Absent" })
  })

  it("a symlink at the path redirects through the whole image, a hard link within this layer's archive", () => {
    expect(verdictOf([{ path: "etc/group", type: "symlink", linkName: "../srv/group" }], "etc/group")).toEqual({
      _tag: "Redirect",
      path: "srv/group",
      sameLayer: false
    })
    expect(verdictOf([{ path: "bin/ash", type: "hardlink", linkName: "bin/busybox" }], "bin/ash")).toEqual({
      _tag: "Redirect",
      path: "bin/busybox",
      sameLayer: true
    })
  })

  it("a directory or a fifo at the path is there but not a file", () => {
    expect(verdictOf([{ path: "etc", type: "dir" }], "etc")).toEqual({ _tag: "NotAFile", type: "directory" })
    expect(verdictOf([{ path: "run/fifo", type: "fifo" }], "run/fifo")).toEqual({ _tag: "NotAFile", type: "fifo" })
  })

  it("a symlinked parent redirects the rest of the path; the shallowest one decides, whatever the entry order", () => {
    const deepFirst: ReadonlyArray<TarSpec> = [
      { path: "a/b", type: "symlink", linkName: "x" },
      { path: "a", type: "symlink", linkName: "/y" }
    ]
    expect(verdictOf(deepFirst, "a/b/c")).toEqual({ _tag: "Redirect", path: "y/b/c", sameLayer: false })
    expect(verdictOf([...deepFirst].reverse(), "a/b/c")).toEqual({ _tag: "Redirect", path: "y/b/c", sameLayer: false })
    expect(verdictOf([{ path: "a/b", type: "symlink", linkName: "x" }], "a/b/c")).toEqual({ _tag: "Redirect", path: "a/x/c", sameLayer: false })
  })

  it("a symlinked parent replaced by a directory later in the same archive no longer redirects", () => {
    expect(verdictOf([{ path: "conf", type: "symlink", linkName: "etc" }, { path: "conf", type: "dir" }], "conf/passwd")).toEqual({ _tag: "Absent" })
    // A later symlink of the same name replaces the earlier one; a directory entry of another parent, even one
    // above the link, leaves the link alone.
    expect(verdictOf([{ path: "conf", type: "symlink", linkName: "etc" }, { path: "conf", type: "symlink", linkName: "srv" }], "conf/passwd"))
      .toEqual({ _tag: "Redirect", path: "srv/passwd", sameLayer: false })
    expect(verdictOf([{ path: "a/b", type: "symlink", linkName: "x" }, { path: "a", type: "dir" }], "a/b/c")).toEqual({
      _tag: "Redirect",
      path: "a/x/c",
      sameLayer: false
    })
    expect(verdictOf([{ path: "conf", type: "symlink", linkName: "etc" }, { path: "conf2", type: "dir" }], "conf/passwd")).toEqual({
      _tag: "Redirect",
      path: "etc/passwd",
      sameLayer: false
    })
  })

  it("a parent that is a directory here says nothing; one that is a file hides the path", () => {
    expect(verdictOf([{ path: "etc", type: "dir" }], "etc/passwd")).toEqual({ _tag: "Absent" })
    expect(verdictOf([{ path: "etc", data: "now a file" }], "etc/passwd")).toEqual({ _tag: "Deleted" })
    expect(verdictOf([{ path: "etc", type: "fifo" }], "etc/passwd")).toEqual({ _tag: "Deleted" })
  })

  it("a whiteout of the path or of a parent deletes it; a whiteout of a name that merely starts the same does not", () => {
    expect(verdictOf([{ path: "data/.wh.old.txt" }], "data/old.txt")).toEqual({ _tag: "Deleted" })
    expect(verdictOf([{ path: ".wh.data" }], "data/old.txt")).toEqual({ _tag: "Deleted" })
    expect(verdictOf([{ path: "data/.wh.old" }], "data/old.txt")).toEqual({ _tag: "Absent" })
  })

  it("an opaque marker hides what lower layers hold under its directory, at any depth, and the root's hides everything", () => {
    expect(verdictOf([{ path: "data/.wh..wh..opq" }], "data/x.txt")).toEqual({ _tag: "Deleted" })
    expect(verdictOf([{ path: "data/.wh..wh..opq" }], "data/sub/x.txt")).toEqual({ _tag: "Deleted" })
    expect(verdictOf([{ path: ".wh..wh..opq" }], "etc/passwd")).toEqual({ _tag: "Deleted" })
    // The directory itself stays (its marker only empties it), and a sibling that starts the same is untouched.
    expect(verdictOf([{ path: "data/.wh..wh..opq" }], "data")).toEqual({ _tag: "Absent" })
    expect(verdictOf([{ path: "data/.wh..wh..opq" }], "database/x")).toEqual({ _tag: "Absent" })
  })

  it("only the path's own regular file has its data collected", () => {
    const scanner = LayerLookup.scanner("etc/passwd")
    const header = (path: string, type: Tar.EntryType) => ({ path, type }) as Tar.TarHeader
    expect(scanner.wantData(header("etc/passwd", "file"))).toBe(true)
    expect(scanner.wantData(header("etc/group", "file"))).toBe(false)
    expect(scanner.wantData(header("etc/passwd", "symlink"))).toBe(false)
    expect(scanner.wantData(header("etc/passwd", "directory"))).toBe(false)
  })
})
