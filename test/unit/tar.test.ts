// The pure tar reader (src/image/Tar.ts) and the layered file lookup (src/image/LayerLookup.ts): ustar, GNU long
// names, PAX records, base-256 numbers, streaming in arbitrary chunk sizes, corrupt input, whiteouts.
// Archives come from an independent test writer and from GNU tar itself.
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, linkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import * as LayerLookup from "../../src/image/LayerLookup.js"
import * as Tar from "../../src/image/Tar.js"
import { tar, type TarSpec } from "../support/tarWriter.js"

const decodeAll = (archive: Uint8Array) => Either.getOrThrowWith(Tar.entries(archive), (e) => new Error(e.message))

const text = (entry: Tar.TarEntry | undefined) => Buffer.from(entry?.data ?? new Uint8Array(0)).toString("utf8")

const byPath = (entries: ReadonlyArray<Tar.TarEntry>) => new Map(entries.map((entry) => [entry.header.path, entry]))

const longDir = `${"d".repeat(60)}/${"e".repeat(60)}`
const longName = `${longDir}/${"f".repeat(90)}.txt`
const longTarget = `/${"t".repeat(150)}`

const sample: ReadonlyArray<TarSpec> = [
  { path: "etc", type: "dir" },
  { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n", mode: 0o644 },
  { path: "bin/sh", type: "symlink", linkName: "/bin/busybox" },
  { path: "bin/ash", type: "hardlink", linkName: "./bin/busybox" },
  { path: longName, data: "long\n", uid: 1000, gid: 1000 },
  { path: "lib/long-link", type: "symlink", linkName: longTarget },
  { path: "run/fifo", type: "fifo" }
]

describe("tar reader", () => {
  for (const longNames of ["gnu", "pax"] as const) {
    it(`reads ustar entries with ${longNames} long names and links`, () => {
      const entries = decodeAll(tar(sample, { longNames }))
      expect(entries.map((entry) => entry.header.path)).toEqual([
        "etc",
        "etc/passwd",
        "bin/sh",
        "bin/ash",
        longName,
        "lib/long-link",
        "run/fifo"
      ])
      const found = byPath(entries)
      expect(found.get("etc")?.header.type).toBe("directory")
      expect(text(found.get("etc/passwd"))).toBe("root:x:0:0:root:/root:/bin/sh\n")
      expect(found.get("etc/passwd")?.header.mode).toBe(0o644)
      expect(found.get("bin/sh")?.header).toMatchObject({ type: "symlink", linkName: "/bin/busybox" })
      expect(found.get("bin/ash")?.header).toMatchObject({ type: "hardlink", linkName: "bin/busybox" })
      expect(found.get(longName)?.header).toMatchObject({ uid: 1000, gid: 1000, size: 5 })
      expect(text(found.get(longName))).toBe("long\n")
      expect(found.get("lib/long-link")?.header.linkName).toBe(longTarget)
      expect(found.get("run/fifo")?.header.type).toBe("fifo")
    })
  }

  it("applies PAX records (path, size, uid) to the next entry only and global records to all", () => {
    const archive = tar([
      { path: "a", data: "1", pax: { uid: "4000000000", "SCHILY.xattr.user.x": "y" } },
      { path: "b", data: "22" },
      { path: "ignored-name", data: "333", pax: { path: "unicode/名前.txt" } }
    ], { globalPax: { gid: "77" } })
    const entries = byPath(decodeAll(archive))
    expect(entries.get("a")?.header).toMatchObject({ uid: 4_000_000_000, gid: 77 })
    expect(entries.get("b")?.header).toMatchObject({ uid: 0, gid: 77 })
    expect(text(entries.get("unicode/名前.txt"))).toBe("333")
  })

  it("reads GNU base-256 numbers", () => {
    const entries = decodeAll(tar([{ path: "big-ids", data: "x", uid: 70_000_000, gid: 3 }], { base256: true }))
    expect(entries[0]?.header).toMatchObject({ path: "big-ids", uid: 70_000_000, gid: 3, size: 1 })
  })

  it.prop(
    "yields the same entries however the input is split into chunks",
    [fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 40 })],
    ([cuts]) => {
      const archive = tar(sample, { longNames: "pax" })
      const decoder = Tar.makeDecoder({ wantData: () => true })
      const collected: Array<Tar.TarEntry> = []
      let offset = 0
      let i = 0
      while (offset < archive.length) {
        const size = cuts[i++ % cuts.length]!
        collected.push(...Either.getOrThrow(decoder.write(archive.subarray(offset, offset + size))))
        offset += size
      }
      expect(Either.isRight(decoder.end())).toBe(true)
      const whole = decodeAll(archive)
      expect(collected.map((e) => [e.header, text(e)])).toEqual(whole.map((e) => [e.header, text(e)]))
    }
  )

  it("skips data it was not asked for", () => {
    const decoder = Tar.makeDecoder({ wantData: (header) => header.path === "etc/passwd" })
    const entries = Either.getOrThrow(decoder.write(tar(sample)))
    expect(entries.filter((entry) => entry.data !== undefined).map((entry) => entry.header.path)).toEqual(["etc/passwd"])
  })

  it("accepts an archive without its zero blocks and ignores what follows them", () => {
    expect(decodeAll(tar(sample, { noTrailer: true })).length).toBe(sample.length)
    const trailing = Buffer.concat([tar(sample), Buffer.alloc(4096, 7)])
    expect(decodeAll(trailing).length).toBe(sample.length)
  })

  it("fails on a bad checksum and on an archive cut inside an entry", () => {
    const archive = Buffer.from(tar(sample))
    const corrupt = Buffer.from(archive)
    corrupt[1] = corrupt[1]! ^ 0xff
    expect(Either.getLeft(Tar.entries(corrupt)).pipe((e) => e._tag === "Some" && e.value.reason)).toBe("BadChecksum")
    const cut = archive.subarray(0, 512 * 2 + 10)
    expect(Either.getLeft(Tar.entries(cut)).pipe((e) => e._tag === "Some" && e.value.reason)).toBe("Truncated")
    expect(Either.isLeft(Tar.entries(Buffer.from("this is not a tar archive".repeat(40))))).toBe(true)
  })

  it("reads what GNU tar writes in ustar, gnu and pax formats", () => {
    const dir = mkdtempSync(join(tmpdir(), "tar-test-"))
    try {
      const root = join(dir, "root")
      mkdirSync(join(root, longDir), { recursive: true })
      writeFileSync(join(root, longDir, "f.txt"), "deep\n")
      writeFileSync(join(root, "plain.txt"), "plain\n")
      symlinkSync("plain.txt", join(root, "link"))
      linkSync(join(root, "plain.txt"), join(root, "zz-hard"))
      for (const format of ["ustar", "gnu", "pax"]) {
        const archive = execFileSync("tar", ["--format", format, "--sort=name", "-C", root, "-cf", "-", "."])
        const entries = byPath(decodeAll(archive))
        expect(text(entries.get(`${longDir}/f.txt`))).toBe("deep\n")
        expect(text(entries.get("plain.txt"))).toBe("plain\n")
        expect(entries.get("link")?.header).toMatchObject({ type: "symlink", linkName: "plain.txt" })
        expect(entries.get("zz-hard")?.header).toMatchObject({ type: "hardlink", linkName: "plain.txt" })
        expect(entries.get("")?.header.type).toBe("directory")
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("paths and whiteouts", () => {
  it("normalises paths without leaving the root", () => {
    expect(Tar.normalizePath("./etc//passwd")).toBe("etc/passwd")
    expect(Tar.normalizePath("/a/b/../c/")).toBe("a/c")
    expect(Tar.normalizePath("../../x")).toBe("x")
    expect(Tar.normalizePath("./")).toBe("")
  })

  it("resolves symlink targets relative to the link's directory", () => {
    expect(Tar.resolveLink("etc/passwd", "../usr/share/passwd")).toBe("usr/share/passwd")
    expect(Tar.resolveLink("etc/passwd", "/srv/passwd")).toBe("srv/passwd")
    expect(Tar.resolveLink("bin/sh", "busybox")).toBe("bin/busybox")
  })

  it("classifies whiteout and opaque markers", () => {
    expect(Tar.whiteoutOf("data/.wh.deleted.txt")).toEqual({ _tag: "Whiteout", target: "data/deleted.txt" })
    expect(Tar.whiteoutOf(".wh.top")).toEqual({ _tag: "Whiteout", target: "top" })
    expect(Tar.whiteoutOf("data/opaque/.wh..wh..opq")).toEqual({ _tag: "Opaque", directory: "data/opaque" })
    expect(Tar.whiteoutOf("data/.wh..wh.plnk")).toBeUndefined()
    expect(Tar.whiteoutOf("data/file.wh.txt")).toBeUndefined()
  })
})

describe("layered lookup", () => {
  /** Runs the lookup over layers (bottom first) of specs, as readFile does. */
  const lookup = (layers: ReadonlyArray<ReadonlyArray<TarSpec>>, path: string): string | undefined => {
    const archives = layers.map((specs) => tar(specs))
    let target = Tar.normalizePath(path)
    let start = archives.length - 1
    for (let hops = 0; hops <= LayerLookup.MAX_REDIRECTS; hops++) {
      let redirected = false
      for (let i = start; i >= 0 && !redirected; i--) {
        const scanner = LayerLookup.scanner(target)
        const decoder = Tar.makeDecoder({ wantData: scanner.wantData })
        for (const entry of Either.getOrThrow(decoder.write(archives[i]!))) scanner.observe(entry)
        const verdict = scanner.verdict()
        switch (verdict._tag) {
          case "Found":
            return Buffer.from(verdict.data).toString("utf8")
          case "Deleted":
          case "NotAFile":
            return undefined
          case "Redirect":
            target = verdict.path
            start = verdict.sameLayer ? i : archives.length - 1
            redirected = true
            break
          case "Absent":
        }
      }
      if (!redirected) return undefined
    }
    throw new Error("symlink loop")
  }

  const base: ReadonlyArray<TarSpec> = [
    { path: "etc", type: "dir" },
    { path: "etc/passwd", data: "base" },
    { path: "data", type: "dir" },
    { path: "data/old.txt", data: "old" },
    { path: "data/opaque", type: "dir" },
    { path: "data/opaque/x.txt", data: "x" },
    { path: "data/keep.txt", data: "keep" }
  ]

  it("finds a file in a lower layer and lets an upper layer replace it", () => {
    expect(lookup([base, [{ path: "data/new.txt", data: "new" }]], "etc/passwd")).toBe("base")
    expect(lookup([base, [{ path: "etc/passwd", data: "upper" }]], "/etc/passwd")).toBe("upper")
  })

  it("honours whiteouts of the file and of a parent directory", () => {
    expect(lookup([base, [{ path: "data/.wh.old.txt" }]], "data/old.txt")).toBeUndefined()
    expect(lookup([base, [{ path: ".wh.data" }]], "data/keep.txt")).toBeUndefined()
    expect(lookup([base, [{ path: "data/.wh.old.txt" }]], "data/keep.txt")).toBe("keep")
    // A whiteout only hides lower layers: the same layer may re-create the path, and a later layer may too.
    expect(lookup([base, [{ path: "data/.wh.old.txt" }, { path: "data/old.txt", data: "again" }]], "data/old.txt")).toBe("again")
    expect(lookup([base, [{ path: "data/.wh.old.txt" }], [{ path: "data/old.txt", data: "later" }]], "data/old.txt")).toBe("later")
  })

  it("honours opaque directories", () => {
    const opaque: ReadonlyArray<TarSpec> = [{ path: "data/opaque/.wh..wh..opq" }, { path: "data/opaque/y.txt", data: "y" }]
    expect(lookup([base, opaque], "data/opaque/x.txt")).toBeUndefined()
    expect(lookup([base, opaque], "data/opaque/y.txt")).toBe("y")
    expect(lookup([base, opaque], "data/keep.txt")).toBe("keep")
  })

  it("follows symlinks (of the file and of a parent) and hard links", () => {
    const links: ReadonlyArray<TarSpec> = [
      { path: "etc/group", type: "symlink", linkName: "../srv/group" },
      { path: "srv", type: "dir" },
      { path: "srv/group", data: "group" },
      { path: "conf", type: "symlink", linkName: "etc" },
      { path: "hard", type: "hardlink", linkName: "srv/group" }
    ]
    expect(lookup([base, links], "etc/group")).toBe("group")
    expect(lookup([base, links], "conf/passwd")).toBe("base")
    expect(lookup([base, links], "hard")).toBe("group")
    expect(() => lookup([[{ path: "a", type: "symlink", linkName: "b" }, { path: "b", type: "symlink", linkName: "a" }]], "a")).toThrow(
      "symlink loop"
    )
  })

  it("treats a parent replaced by a file, and a directory, as no file", () => {
    expect(lookup([base, [{ path: "etc", data: "now a file" }]], "etc/passwd")).toBeUndefined()
    expect(lookup([base], "etc")).toBeUndefined()
    expect(lookup([base], "missing/file")).toBeUndefined()
  })
})
