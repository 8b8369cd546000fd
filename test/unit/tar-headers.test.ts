// The tar reader (src/image/Tar.ts) field by field: header blocks written byte by byte here (octal and base-256
// numbers, checksums, type flags, ustar/GNU magic), PAX records as parsePax sees them, meta entries (GNU `L`/`K`,
// PAX `x`/`g`) in combination, and the decoder's end-of-input and failure rules. Formats as in POSIX pax(1)
// ("ustar Interchange Format", "pax Extended Header") and Go's archive/tar (reader.go, strconv.go), GNU tar's
// own archives where it writes the case (gnu format long names and links, incremental dumps).
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Tar from "../../src/image/Tar.js"

const BLOCK = 512

/** Header fields as the bytes to write, verbatim (numbers as their octal text, or as raw base-256 bytes). */
interface Raw {
  readonly name?: string | Uint8Array
  readonly mode?: string | Uint8Array
  readonly uid?: string | Uint8Array
  readonly gid?: string | Uint8Array
  readonly size?: string | Uint8Array
  readonly flag?: string
  readonly linkName?: string
  /** The 8 bytes at 257: "ustar\0" + "00" (POSIX, the default) or "ustar  \0" (GNU). */
  readonly magic?: "posix" | "gnu" | "none"
  readonly prefix?: string
  /** How the checksum is written: the unsigned byte sum (POSIX), the signed one (old Sun tar), or this text. */
  readonly checksum?: "unsigned" | "signed" | string
}

const put = (block: Uint8Array, offset: number, value: string | Uint8Array) =>
  block.set(typeof value === "string" ? Buffer.from(value, "latin1") : value, offset)

const header = (raw: Raw): Uint8Array => {
  const block = new Uint8Array(BLOCK)
  put(block, 0, raw.name ?? "file")
  put(block, 100, raw.mode ?? "0000644\0")
  put(block, 108, raw.uid ?? "0000000\0")
  put(block, 116, raw.gid ?? "0000000\0")
  put(block, 124, raw.size ?? "00000000000\0")
  put(block, 136, "00000000000\0")
  put(block, 156, raw.flag ?? "0")
  put(block, 157, raw.linkName ?? "")
  if (raw.magic !== "none") put(block, 257, raw.magic === "gnu" ? "ustar  \0" : "ustar\x0000")
  put(block, 345, raw.prefix ?? "")
  block.fill(0x20, 148, 156)
  const checksum = raw.checksum ?? "unsigned"
  if (checksum === "unsigned" || checksum === "signed") {
    let sum = 0
    for (const byte of block) sum += checksum === "signed" && byte >= 0x80 ? byte - 256 : byte
    put(block, 148, `${sum.toString(8).padStart(6, "0")}\0 `)
  } else {
    put(block, 148, checksum)
  }
  return block
}

/** An entry's data followed by the zeros up to the next block boundary. */
const data = (text: string): Uint8Array => {
  const bytes = Buffer.from(text, "utf8")
  const out = new Uint8Array(Math.ceil(bytes.length / BLOCK) * BLOCK)
  out.set(bytes)
  return out
}

const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\0`

/** A PAX record, `"<len> <key>=<value>\n"` with `<len>` counting itself. */
const record = (key: string, value: string): string => {
  const body = ` ${key}=${value}\n`
  let length = body.length + 1
  while (String(length).length + body.length !== length) length = String(length).length + body.length
  return `${length}${body}`
}

const meta = (flag: "x" | "g" | "L" | "K", text: string): Array<Uint8Array> => [
  header({ name: flag === "L" || flag === "K" ? "././@LongLink" : "PaxHeader", flag, size: octal(Buffer.byteLength(text), 12) }),
  data(text)
]

const archive = (...blocks: ReadonlyArray<Uint8Array | ReadonlyArray<Uint8Array>>): Uint8Array =>
  Buffer.concat([...blocks.flat(), new Uint8Array(2 * BLOCK)])

const decode = (bytes: Uint8Array) => Either.getOrThrowWith(Tar.entries(bytes), (e) => new Error(`${e.reason}: ${e.message}`))

const headers = (bytes: Uint8Array) => decode(bytes).map((entry) => entry.header)

const failure = (result: Either.Either<unknown, Tar.TarError>) =>
  Either.match(result, { onLeft: (e) => ({ reason: e.reason, message: e.message }), onRight: () => "no failure" })

const text = (entry: Tar.TarEntry | undefined) => Buffer.from(entry?.data ?? new Uint8Array(0)).toString("utf8")

describe("tar header fields", () => {
  it("reads a name that fills its 100-byte field without a terminating NUL", () => {
    const name = `${"n".repeat(99)}z`
    expect(headers(archive(header({ name, size: octal(2, 12) }), data("hi")))[0]?.path).toBe(name)
  })

  it("reads octal numbers padded with spaces or NULs, and an empty field as zero", () => {
    const [entry] = headers(archive(header({ mode: "   644 \0", uid: "  1750\0 ", gid: "\0\0\0\0\0\0\0\0", size: " 3 \0\0\0\0\0\0\0\0\0" }), data("abc")))
    expect(entry).toMatchObject({ mode: 0o644, uid: 1000, gid: 0, size: 3 })
  })

  it("refuses a numeric field with anything but octal digits in it", () => {
    const bad = (raw: Raw) => failure(Tar.entries(archive(header({ name: "odd", ...raw }))))
    const refused = { reason: "BadHeader", message: "invalid numeric field in the header of \"odd\"" }
    expect(bad({ size: "x7\0" })).toEqual(refused)
    expect(bad({ size: "7x\0" })).toEqual(refused)
    expect(bad({ mode: "0000648\0" })).toEqual(refused)
    expect(bad({ uid: "-000001\0" })).toEqual(refused)
    expect(bad({ gid: "00000g0\0" })).toEqual(refused)
  })

  it("reads GNU base-256 numbers and refuses negative ones (sign bit 0x40 after the 0x80 marker)", () => {
    const base256 = (first: number, last: number, length: number) => {
      const bytes = new Uint8Array(length)
      bytes[0] = first
      bytes[length - 1] = last
      return bytes
    }
    expect(headers(archive(header({ uid: base256(0x80, 0x2a, 8), size: base256(0x80, 2, 12) }), data("ok")))[0])
      .toMatchObject({ uid: 42, size: 2 })
    // 0xc0 first: the 0x40 bit is the sign of GNU's two's complement (Go's parseNumeric inverts the bytes then).
    expect(failure(Tar.entries(archive(header({ name: "neg", size: base256(0xc0, 2, 12) }), data("ok"))))).toEqual({
      reason: "BadHeader",
      message: "invalid numeric field in the header of \"neg\""
    })
  })

  it("joins the POSIX ustar prefix with the name, but not the GNU header's atime/ctime at the same place", () => {
    expect(headers(archive(header({ name: "name.txt", prefix: "a/long/dir" })))[0]?.path).toBe("a/long/dir/name.txt")
    expect(headers(archive(header({ name: "name.txt", magic: "gnu", prefix: "14712345670\x0014712345670" })))[0]?.path)
      .toBe("name.txt")
    // An old V7 header has no magic and no prefix field.
    expect(headers(archive(header({ name: "v7.txt", magic: "none", prefix: "junk" })))[0]?.path).toBe("v7.txt")
  })
})

describe("tar header checksums", () => {
  // High bytes (UTF-8 é) and a DEL (0x7f, the largest byte that counts the same signed and unsigned).
  const name = "caf\u00c3\u00a9\x7f"

  it("accepts the unsigned sum and the signed sum old Sun tar wrote", () => {
    for (const checksum of ["unsigned", "signed"] as const) {
      expect(headers(archive(header({ name, checksum })))[0]?.path).toBe("café\x7f")
    }
  })

  it("refuses a checksum that matches neither sum, or is not a number", () => {
    const badChecksum = { reason: "BadChecksum", message: "tar header checksum mismatch (not a tar archive, or corrupt)" }
    expect(failure(Tar.entries(archive(header({ name, checksum: "0000000\0" }))))).toEqual(badChecksum)
    expect(failure(Tar.entries(archive(header({ name, checksum: "nochksum" }))))).toEqual(badChecksum)
  })
})

describe("tar type flags", () => {
  it("reads every POSIX type flag, old V7 files (NUL flag, directory by its slash) and contiguous files", () => {
    const entries = headers(archive(
      header({ name: "v7-file", flag: "\0", size: octal(1, 12) }),
      data("1"),
      header({ name: "v7-dir/", flag: "\0" }),
      header({ name: "zero-dir/", flag: "0" }),
      header({ name: "/abs-file", flag: "0" }),
      header({ name: "contiguous", flag: "7", size: octal(1, 12) }),
      data("7"),
      header({ name: "hard", flag: "1", linkName: "./v7-file" }),
      header({ name: "sym", flag: "2", linkName: "../v7-file" }),
      header({ name: "tty", flag: "3" }),
      header({ name: "disk", flag: "4" }),
      header({ name: "dir", flag: "5" }),
      header({ name: "pipe", flag: "6" }),
      header({ name: "vendor", flag: "Z", size: octal(3, 12) }),
      data("vvv")
    ))
    expect(entries.map((entry) => [entry.path, entry.type, entry.size, entry.linkName])).toEqual([
      ["v7-file", "file", 1, ""],
      ["v7-dir", "directory", 0, ""],
      ["zero-dir", "directory", 0, ""],
      ["abs-file", "file", 0, ""],
      ["contiguous", "file", 1, ""],
      ["hard", "hardlink", 0, "v7-file"],
      ["sym", "symlink", 0, "../v7-file"],
      ["tty", "char", 0, ""],
      ["disk", "block", 0, ""],
      ["dir", "directory", 0, ""],
      ["pipe", "fifo", 0, ""],
      ["vendor", "other", 3, ""]
    ])
  })

  it("reads the data of an unknown type flag, and none for links and directories that record a size", () => {
    // Go's archive/tar: isHeaderOnlyType (links, devices, directories, FIFOs) has no data whatever the size says.
    const found = decode(archive(
      header({ name: "sym", flag: "2", linkName: "target", size: octal(5, 12) }),
      header({ name: "dir/", flag: "5", size: octal(600, 12) }),
      header({ name: "sparse", flag: "S", size: octal(4, 12) }),
      data("SSSS"),
      header({ name: "after", size: octal(5, 12) }),
      data("after")
    ))
    expect(found.map((entry) => [entry.header.path, entry.header.type, text(entry)])).toEqual([
      ["sym", "symlink", ""],
      ["dir", "directory", ""],
      ["sparse", "other", "SSSS"],
      ["after", "file", "after"]
    ])
  })

  it("gives no link name to entries other than links, whatever the link field holds", () => {
    expect(headers(archive(header({ name: "f", linkName: "leftover" }), header({ name: "d/", flag: "5", linkName: "x" }))))
      .toEqual([
        { path: "f", type: "file", size: 0, mode: 0o644, uid: 0, gid: 0, linkName: "" },
        { path: "d", type: "directory", size: 0, mode: 0o644, uid: 0, gid: 0, linkName: "" }
      ])
  })
})

describe("PAX records", () => {
  const pax = (textual: string) => Tar.parsePax(Buffer.from(textual, "utf8"))
  const malformed = (detail: string) => ({ reason: "BadHeader", message: `malformed PAX header: ${detail}` })

  it("reads records up to the NUL padding", () => {
    expect(pax("12 path=a b\n9 uid=42\n\0\0\0")).toEqual(Either.right({ path: "a b", uid: "42" }))
  })

  it("refuses records without a length, with a length that is not decimal, or out of range", () => {
    expect(failure(pax("path=a\n"))).toEqual(malformed("record without a length"))
    expect(failure(pax(" 9 uid=42\n"))).toEqual(malformed("invalid record length \"\""))
    expect(failure(pax("x9 uid=42\n"))).toEqual(malformed("invalid record length \"x9\""))
    expect(failure(pax("9x uid=42\n"))).toEqual(malformed("invalid record length \"9x\""))
    // Not ending in a newline where the length says.
    expect(failure(pax("9 uid=42 "))).toEqual(malformed("record length out of range"))
    expect(failure(pax("8 uid=42\n"))).toEqual(malformed("record length out of range"))
    expect(failure(pax("90 uid=42\n"))).toEqual(malformed("record length out of range"))
    // A zero length would end the record before it starts (here right after the first record's newline).
    expect(failure(pax("9 uid=42\n0 gid=7\n"))).toEqual(malformed("record length out of range"))
  })

  it("refuses a record without a key", () => {
    expect(failure(pax("7 =abc\n"))).toEqual(malformed("record without a key"))
    expect(failure(pax("6 abc\n"))).toEqual(malformed("record without a key"))
  })
})

describe("tar meta entries", () => {
  it("takes the entry's size from a PAX size record (POSIX: it overrides the header's size field)", () => {
    const found = decode(archive(meta("x", record("size", "5")), header({ name: "big", size: octal(0, 12) }), data("12345")))
    expect(found.map((entry) => [entry.header.size, text(entry)])).toEqual([[5, "12345"]])
  })

  it("refuses PAX size, uid or gid records that are not decimal numbers", () => {
    const bad = (key: string, value: string) =>
      failure(Tar.entries(archive(meta("x", record(key, value)), header({ name: "f" }))))
    expect(bad("size", "12x")).toEqual({ reason: "BadHeader", message: "PAX size is not a number: \"12x\"" })
    expect(bad("uid", "x12")).toEqual({ reason: "BadHeader", message: "PAX uid is not a number: \"x12\"" })
    expect(bad("gid", "-1")).toEqual({ reason: "BadHeader", message: "PAX gid is not a number: \"-1\"" })
  })

  it("keeps global PAX records for the entries whose own PAX header does not set them", () => {
    const found = headers(archive(
      meta("g", record("uid", "77") + record("size", "2")),
      meta("x", record("gid", "5")),
      header({ name: "a", uid: octal(1, 8) }),
      data("aa"),
      meta("x", record("uid", "3")),
      header({ name: "b" }),
      data("bb")
    ))
    expect(found.map((entry) => [entry.path, entry.uid, entry.gid, entry.size])).toEqual([["a", 77, 5, 2], ["b", 3, 0, 2]])
  })

  it("keeps a GNU long name and long link name when a PAX header follows them", () => {
    const name = `${"p".repeat(120)}/file`
    const target = `/${"t".repeat(120)}`
    const found = headers(archive(
      meta("L", `${name}\0`),
      meta("x", record("uid", "9")),
      header({ name: "cut", flag: "0" }),
      meta("K", `${target}\0`),
      meta("x", record("gid", "8")),
      header({ name: "link", flag: "2", linkName: "cut" })
    ))
    expect(found.map((entry) => [entry.path, entry.uid, entry.gid, entry.linkName])).toEqual([[name, 9, 0, ""], ["link", 0, 8, target]])
  })

  it("reads a meta entry's data by its own size, not by a pending PAX size", () => {
    const name = `${"q".repeat(110)}.txt`
    const found = decode(archive(
      meta("x", record("size", "3")),
      meta("L", `${name}\0`),
      header({ name: "cut", size: octal(0, 12) }),
      data("abc")
    ))
    expect(found.map((entry) => [entry.header.path, entry.header.size, text(entry)])).toEqual([[name, 3, "abc"]])
  })

  it("limits meta entries to 1 MiB of data and no other entry", () => {
    const decoder = () => Tar.makeDecoder()
    expect(Either.isRight(decoder().write(header({ name: "PaxHeader", flag: "x", size: octal(1 << 20, 12) })))).toBe(true)
    expect(failure(decoder().write(header({ name: "PaxHeader", flag: "x", size: octal((1 << 20) + 1, 12) })))).toEqual({
      reason: "BadHeader",
      message: "x header of 1048577 bytes is too large"
    })
    expect(failure(decoder().write(header({ name: "././@LongLink", flag: "L", size: octal(2 << 20, 12) })))).toEqual({
      reason: "BadHeader",
      message: "L header of 2097152 bytes is too large"
    })
    expect(Either.isRight(decoder().write(header({ name: "big", size: octal(2 << 20, 12) })))).toBe(true)
  })
})

describe("GNU tar archives", () => {
  it("reads a symlink with both a long name and a long target (GNU tar writes K then L)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tar-headers-"))
    try {
      const name = "n".repeat(120)
      const target = `/${"t".repeat(150)}`
      mkdirSync(join(dir, "root"))
      symlinkSync(target, join(dir, "root", name))
      const found = headers(execFileSync("tar", ["--format=gnu", "-C", join(dir, "root"), "-cf", "-", name]))
      expect(found.map((entry) => [entry.path, entry.type, entry.linkName])).toEqual([[name, "symlink", target]])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads a GNU incremental dump: atime/ctime where ustar has its prefix, 'D' dumpdir entries with data", () => {
    const dir = mkdtempSync(join(tmpdir(), "tar-headers-"))
    try {
      mkdirSync(join(dir, "root", "sub"), { recursive: true })
      writeFileSync(join(dir, "root", "sub", "f.txt"), "hi\n")
      const found = decode(execFileSync("tar", ["--format=gnu", "--incremental", "-C", join(dir, "root"), "-cf", "-", "."]))
      // GNU tar's dumpdir: one name a record, 'Y' a file in the archive, 'D' a directory, NUL-terminated.
      expect(found.map((entry) => [entry.header.path, entry.header.type, entry.header.size, text(entry)])).toEqual([
        ["", "other", 6, "Dsub\0\0"],
        ["sub", "other", 8, "Yf.txt\0\0"],
        ["sub/f.txt", "file", 3, "hi\n"]
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("tar decoder", () => {
  const file = archive(header({ name: "f", size: octal(5, 12) }), data("12345"))

  it("collects no data unless asked, and a skipped entry has no data field", () => {
    const [entry] = Either.getOrThrow(Tar.makeDecoder().write(file))
    expect(entry).toStrictEqual({ header: { path: "f", type: "file", size: 5, mode: 0o644, uid: 0, gid: 0, linkName: "" } })
  })

  it("ends cleanly at a header boundary or inside the last entry's padding, as Go's archive/tar does", () => {
    // Go's tryReadFull returns io.EOF for missing padding, which Reader.Next reports as the end of the archive.
    for (const length of [BLOCK + 5, BLOCK + 100, 2 * BLOCK]) {
      const decoder = Tar.makeDecoder()
      expect(Either.getOrThrow(decoder.write(file.subarray(0, length))).map((entry) => entry.header.path)).toEqual(["f"])
      expect(Either.isRight(decoder.end())).toBe(true)
    }
  })

  it("fails to end inside a header or inside an entry's data", () => {
    const truncated = { reason: "Truncated", message: "tar archive ends in the middle of an entry" }
    for (const length of [100, BLOCK + 4, 2 * BLOCK + 100]) {
      const decoder = Tar.makeDecoder()
      expect(Either.isRight(decoder.write(file.subarray(0, length)))).toBe(true)
      expect(failure(decoder.end())).toEqual(truncated)
    }
  })

  it("keeps failing after a failure, however good the following input", () => {
    const decoder = Tar.makeDecoder()
    const corrupt = header({ name: "f", checksum: "0000001\0" })
    const badChecksum = { reason: "BadChecksum", message: "tar header checksum mismatch (not a tar archive, or corrupt)" }
    expect(failure(decoder.write(corrupt))).toEqual(badChecksum)
    expect(failure(decoder.write(file))).toEqual(badChecksum)
    expect(failure(decoder.end())).toEqual(badChecksum)
  })
})
