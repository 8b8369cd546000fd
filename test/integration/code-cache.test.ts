/**
 * The plugin's V8 code cache (scripts/launcher.cjs), on the built file launched as Nomad launches it: a start writes
 * it privately, a later start uses it, and a cache that is corrupt, not private or cannot be written never stops the
 * plugin from starting and serving, nor puts anything but the handshake on stdout.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Launched, launch, nomadEnv, pluginDir, unary } from "../support/PluginProcess.js"

let dir: string
let scratch: string
const running: Array<Launched> = []

beforeAll(() => {
  dir = pluginDir()
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-code-cache-"))
})

afterAll(() => {
  for (const launched of running) launched.close()
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(scratch, { recursive: true, force: true })
})

const start = async (cacheDir: string) => {
  const launched = await launch(dir, nomadEnv({ CONTAINERD_DRIVER_CODE_CACHE: cacheDir }))
  running.push(launched)
  return launched
}

/** The plugin answers a call (it really runs), and printed nothing on stdout but the handshake. */
const serves = async (launched: Launched) => {
  const info = await unary(launched.base, launched.base.pluginInfo, {})
  expect(info.name).toBe("containerd-driver")
  expect(launched.stdout()).toBe(`${launched.handshake}\n`)
}

const cacheFiles = (cacheDir: string) => fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []

/** Waits for the cache file a start writes (2 s after it). */
const written = async (cacheDir: string, since = 0): Promise<string> => {
  for (let i = 0; i < 100; i++) {
    const [name] = cacheFiles(cacheDir).filter((n) => /^plugin-[0-9a-f]{16}\.v8cache$/.test(n))
    if (name !== undefined && fs.statSync(path.join(cacheDir, name)).mtimeMs > since) return path.join(cacheDir, name)
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no code cache written in ${cacheDir}: ${cacheFiles(cacheDir).join(", ")}`)
}

describe("the V8 code cache", () => {
  it("is written by a start, privately, and kept by the next start that uses it", async () => {
    const cacheDir = path.join(scratch, "fresh", "cache")
    const first = await start(cacheDir)
    await serves(first)
    const file = await written(cacheDir)
    expect(fs.statSync(cacheDir).mode & 0o777).toBe(0o700)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(file).size).toBeGreaterThan(100_000)
    first.close()

    const mtime = fs.statSync(file).mtimeMs
    const second = await start(cacheDir)
    await serves(second)
    await new Promise((r) => setTimeout(r, 2500))
    // Used, so not written again.
    expect(fs.statSync(file).mtimeMs).toBe(mtime)
    expect(cacheFiles(cacheDir)).toEqual([path.basename(file)])
    second.close()
  }, 30_000)

  it("that is corrupt is ignored and replaced; one writable by others is not used but replaced; other versions' are removed", async () => {
    const cacheDir = path.join(scratch, "bad")
    const seed = await start(cacheDir)
    const file = await written(cacheDir)
    seed.close()
    const name = path.basename(file)

    fs.writeFileSync(file, Buffer.alloc(200_000, 7))
    fs.writeFileSync(path.join(cacheDir, "plugin-0000000000000000.v8cache"), "an older version's")
    const before = Date.now()
    const afterCorrupt = await start(cacheDir)
    await serves(afterCorrupt)
    await written(cacheDir, before)
    expect(fs.readFileSync(file).subarray(0, 16).equals(Buffer.alloc(16, 7))).toBe(false)
    expect(cacheFiles(cacheDir)).toEqual([name])
    afterCorrupt.close()

    fs.chmodSync(file, 0o666)
    const beforeShared = Date.now()
    const afterShared = await start(cacheDir)
    await serves(afterShared)
    await written(cacheDir, beforeShared)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    afterShared.close()
  }, 40_000)

  it("that cannot be written costs nothing but the speed-up", async () => {
    const launched = await start("/dev/null/no-code-cache")
    await serves(launched)
    await new Promise((r) => setTimeout(r, 2500))
    expect(launched.child.exitCode).toBeNull()
    await serves(launched)
    expect(launched.stderr()).not.toMatch(/v8cache|code cache/i)
    launched.close()
  }, 20_000)
})
