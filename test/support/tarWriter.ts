/**
 * A tiny tar writer for tests: ustar headers, and long names/links either as GNU `L`/`K` entries or as PAX `x`
 * records, optional PAX global headers, GNU base-256 numbers. Independent of src/image/Tar.ts on purpose.
 */
import { gzipSync } from "node:zlib"

export interface TarSpec {
  readonly path: string
  readonly type?: "file" | "dir" | "symlink" | "hardlink" | "fifo"
  readonly data?: string | Uint8Array
  readonly linkName?: string
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  /** Extra PAX records for this entry (forces a PAX header). */
  readonly pax?: Readonly<Record<string, string>>
}

export interface TarOptions {
  /** How names longer than the ustar fields are written. Default "gnu". */
  readonly longNames?: "gnu" | "pax"
  /** PAX global header records written first. */
  readonly globalPax?: Readonly<Record<string, string>>
  /** Write numbers as GNU base-256 instead of octal. */
  readonly base256?: boolean
  /** Leave out the two terminating zero blocks. */
  readonly noTrailer?: boolean
}

const BLOCK = 512

const bytesOf = (data: string | Uint8Array | undefined): Uint8Array =>
  typeof data === "string" ? Buffer.from(data, "utf8") : data ?? new Uint8Array(0)

const writeString = (block: Uint8Array, offset: number, length: number, value: string) => {
  const bytes = Buffer.from(value, "utf8")
  block.set(bytes.subarray(0, length), offset)
}

const writeNumber = (block: Uint8Array, offset: number, length: number, value: number, base256: boolean) => {
  if (base256) {
    let rest = value
    for (let i = length - 1; i > 0; i--) {
      block[offset + i] = rest % 256
      rest = Math.floor(rest / 256)
    }
    block[offset] = 0x80
    return
  }
  writeString(block, offset, length - 1, value.toString(8).padStart(length - 1, "0"))
}

const typeFlag: Record<NonNullable<TarSpec["type"]>, string> = { file: "0", hardlink: "1", symlink: "2", dir: "5", fifo: "6" }

const header = (
  fields: { name: string; flag: string; size: number; mode: number; uid: number; gid: number; linkName: string; prefix?: string },
  base256: boolean
): Uint8Array => {
  const block = new Uint8Array(BLOCK)
  writeString(block, 0, 100, fields.name)
  writeNumber(block, 100, 8, fields.mode, false)
  writeNumber(block, 108, 8, fields.uid, base256)
  writeNumber(block, 116, 8, fields.gid, base256)
  writeNumber(block, 124, 12, fields.size, base256)
  writeNumber(block, 136, 12, 0, false)
  block[156] = fields.flag.charCodeAt(0)
  writeString(block, 157, 100, fields.linkName)
  writeString(block, 257, 6, "ustar")
  writeString(block, 263, 2, "00")
  if (fields.prefix !== undefined) writeString(block, 345, 155, fields.prefix)
  block.fill(0x20, 148, 156)
  const sum = block.reduce((acc, byte) => acc + byte, 0)
  writeString(block, 148, 7, sum.toString(8).padStart(6, "0") + "\0")
  return block
}

const padded = (data: Uint8Array): Array<Uint8Array> => {
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK
  return [data, new Uint8Array(padding)]
}

const paxRecords = (records: Readonly<Record<string, string>>): Uint8Array => {
  let text = ""
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`
    let length = Buffer.byteLength(body) + 1
    while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body)
    text += `${length}${body}`
  }
  return Buffer.from(text, "utf8")
}

export const tar = (entries: ReadonlyArray<TarSpec>, options: TarOptions = {}): Uint8Array => {
  const base256 = options.base256 ?? false
  const parts: Array<Uint8Array> = []
  const meta = (flag: string, data: Uint8Array) => {
    parts.push(header({ name: flag === "L" || flag === "K" ? "././@LongLink" : "PaxHeader", flag, size: data.length, mode: 0o644, uid: 0, gid: 0, linkName: "" }, false))
    parts.push(...padded(data))
  }
  if (options.globalPax !== undefined) meta("g", paxRecords(options.globalPax))
  for (const entry of entries) {
    const type = entry.type ?? "file"
    const data = type === "file" ? bytesOf(entry.data) : new Uint8Array(0)
    const linkName = entry.linkName ?? ""
    let name = type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path
    let prefix: string | undefined
    const records: Record<string, string> = { ...entry.pax }
    if (Buffer.byteLength(name) > 100) {
      if (options.longNames === "pax") records["path"] = name
      else meta("L", Buffer.from(`${name}\0`, "utf8"))
      const slash = name.lastIndexOf("/", name.length - 2)
      if (options.longNames === "pax" && slash > 0 && slash <= 155 && name.length - slash - 1 <= 100) {
        prefix = name.slice(0, slash)
        name = name.slice(slash + 1)
      } else {
        name = name.slice(0, 100)
      }
    }
    if (Buffer.byteLength(linkName) > 100) {
      if (options.longNames === "pax") records["linkpath"] = linkName
      else meta("K", Buffer.from(`${linkName}\0`, "utf8"))
    }
    if (Object.keys(records).length > 0) meta("x", paxRecords(records))
    parts.push(header({
      name,
      flag: typeFlag[type],
      size: data.length,
      mode: entry.mode ?? (type === "dir" ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      linkName: linkName.slice(0, 100),
      ...(prefix !== undefined ? { prefix } : {})
    }, base256))
    parts.push(...padded(data))
  }
  if (options.noTrailer !== true) parts.push(new Uint8Array(BLOCK * 2))
  return Buffer.concat(parts)
}

export const tarGz = (entries: ReadonlyArray<TarSpec>, options: TarOptions = {}): Uint8Array => gzipSync(tar(entries, options))
