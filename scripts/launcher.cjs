"use strict"
// The start of dist/containerd-driver.cjs (written by scripts/bundle.mjs): the plugin itself follows this code as a
// comment, which V8 skips (each "*" + "/" in it written with a \x01 between). It is compiled here with V8's code
// cache from an earlier start, which saves most of the compile (scripts/bundle.mjs says how much). The cache is only
// a speed-up: when it is missing, stale, unreadable or unwritable, the plugin compiles from source as usual and
// nothing is reported.
//
// Where: $CONTAINERD_DRIVER_CODE_CACHE, else /var/cache/containerd-driver for root, else ~/.cache/containerd-driver;
// a file named by the source's hash (V8 checks only the source's length), 0600 in a 0700 directory, and read only
// when owned by this user and writable by no one else, since its bytecode runs as the plugin.
const fs = require("node:fs")
const os = require("node:os")
const path = require("node:path")
const vm = require("node:vm")

const sourceHash = "@SOURCE_HASH@"
const marker = "/*" + "PLUGIN\n"
const file = fs.readFileSync(__filename, "latin1")
const start = file.indexOf(marker) + marker.length
const source = file.slice(start, file.lastIndexOf("\n*/")).replaceAll("*\x01/", "*/")

const uid = typeof process.getuid === "function" ? process.getuid() : -1
const cacheDir = process.env["CONTAINERD_DRIVER_CODE_CACHE"] ||
  (uid === 0 ? "/var/cache/containerd-driver" : path.join(os.homedir(), ".cache", "containerd-driver"))
const cacheFile = path.join(cacheDir, `plugin-${sourceHash}.v8cache`)

/** The checks are made on the file opened, so it cannot be swapped between them and the read. */
const readCache = () => {
  let fd
  try {
    fd = fs.openSync(cacheFile, "r")
    const stat = fs.fstatSync(fd)
    return stat.isFile() && stat.uid === uid && (stat.mode & 0o022) === 0 ? fs.readFileSync(fd) : undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** Written once the plugin has started (the cache then holds the functions the start compiled), atomically. */
const writeCache = (script) => {
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 })
    for (const name of fs.readdirSync(cacheDir)) {
      if (/^plugin-[0-9a-f]+\.v8cache$/.test(name) && name !== path.basename(cacheFile)) fs.rmSync(path.join(cacheDir, name), { force: true })
    }
    const temporary = `${cacheFile}.${process.pid}`
    fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 })
    fs.renameSync(temporary, cacheFile)
  } catch {
    // A read-only or full disk only costs the next start its compile.
  }
}

const cachedData = readCache()
const script = new vm.Script(source, { filename: __filename, cachedData })
if (cachedData === undefined || script.cachedDataRejected === true) setTimeout(() => writeCache(script), 2000).unref()
script.runInThisContext()(exports, require, module, __filename, __dirname)
