import { describe, expect, it } from "@effect/vitest"
import { afterAll } from "vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { formatBytes, readBoundedFile } from "../../layers/boundedFile.js"

const scratches: Array<string> = []
const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-bounded-"))
  scratches.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of scratches) fs.rmSync(dir, { recursive: true, force: true })
})
// A hang or an unbounded read fails the test by this limit rather than running until memory is gone.
const limit = 10_000

describe("readBoundedFile", () => {
  it.effect("reads a regular file within the cap", () =>
    Effect.gen(function*() {
      const file = path.join(scratch(), "profile.json")
      fs.writeFileSync(file, "{\"a\":1}")
      expect((yield* readBoundedFile(file, 7)).toString()).toBe("{\"a\":1}")
      const empty = path.join(scratch(), "empty")
      fs.writeFileSync(empty, "")
      expect((yield* readBoundedFile(empty, 0)).length).toBe(0)
    }))

  it.effect("reads a file larger than one read chunk completely", () =>
    Effect.gen(function*() {
      const file = path.join(scratch(), "big")
      const content = Buffer.alloc(200 * 1024, "x")
      fs.writeFileSync(file, content)
      expect((yield* readBoundedFile(file, content.length)).equals(content)).toBe(true)
    }))

  it.effect("follows a symbolic link to a regular file", () =>
    Effect.gen(function*() {
      const dir = scratch()
      fs.writeFileSync(path.join(dir, "real"), "ok")
      fs.symlinkSync(path.join(dir, "real"), path.join(dir, "link"))
      expect((yield* readBoundedFile(path.join(dir, "link"), 10)).toString()).toBe("ok")
    }))

  it.effect("refuses /dev/zero as a character device instead of reading it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readBoundedFile("/dev/zero", 1024 * 1024))
      expect(error.reason).toBe("NotRegularFile")
      expect(error.message).toBe("/dev/zero is a character device, not a regular file; only a regular file can be read here")
    }), limit)

  it.effect("refuses a FIFO without waiting for a writer", () =>
    Effect.gen(function*() {
      const fifo = path.join(scratch(), "fifo")
      execFileSync("mkfifo", [fifo])
      const error = yield* Effect.flip(readBoundedFile(fifo, 1024))
      expect(error.reason).toBe("NotRegularFile")
      expect(error.message).toBe(`${fifo} is a FIFO, not a regular file; only a regular file can be read here`)
    }), limit)

  it.effect("refuses a symbolic link to a FIFO", () =>
    Effect.gen(function*() {
      const dir = scratch()
      execFileSync("mkfifo", [path.join(dir, "fifo")])
      fs.symlinkSync(path.join(dir, "fifo"), path.join(dir, "link"))
      expect((yield* Effect.flip(readBoundedFile(path.join(dir, "link"), 1024))).reason).toBe("NotRegularFile")
    }), limit)

  it.effect("refuses a directory", () =>
    Effect.gen(function*() {
      const dir = scratch()
      const error = yield* Effect.flip(readBoundedFile(dir, 1024))
      expect(error.reason).toBe("NotRegularFile")
      expect(error.message).toContain(`${dir} is a directory`)
    }))

  it.effect("refuses a regular file above the cap, naming the path, its size and the cap", () =>
    Effect.gen(function*() {
      const file = path.join(scratch(), "huge.json")
      fs.writeFileSync(file, Buffer.alloc(1024 * 1024 + 1, " "))
      const error = yield* Effect.flip(readBoundedFile(file, 1024 * 1024))
      expect(error.reason).toBe("TooLarge")
      expect(error.recoverable).toBe(false)
      expect(error.message).toBe(`${file} is 1048577 bytes, more than the 1 MiB such a file may have`)
    }))

  it.effect("reports a missing file as not found (and worth retrying)", () =>
    Effect.gen(function*() {
      const file = path.join(scratch(), "missing.json")
      const error = yield* Effect.flip(readBoundedFile(file, 1024))
      expect(error.reason).toBe("NotFound")
      expect(error.recoverable).toBe(true)
      expect(error.message).toBe(`${file} does not exist`)
    }))

  it("writes caps in the unit they are chosen in", () => {
    expect(formatBytes(1024 * 1024)).toBe("1 MiB")
    expect(formatBytes(64 * 1024)).toBe("64 KiB")
    expect(formatBytes(1000)).toBe("1000 bytes")
  })
})
