/**
 * A small streaming tar reader for image layers: ustar and old V7 headers, GNU long names/link names (`L`/`K`),
 * GNU base-256 numbers, PAX extended (`x`) and global (`g`) headers; plus the OCI whiteout naming (`.wh.<name>`
 * deletes `<name>` from lower layers, `.wh..wh..opq` hides a directory's lower contents).
 *
 * Pure: the decoder is a state machine fed with byte chunks; failures are `TarError` values, never exceptions.
 */
import { Data, Either } from "effect"

const BLOCK = 512

export type EntryType = "file" | "hardlink" | "symlink" | "directory" | "char" | "block" | "fifo" | "other"

export interface TarHeader {
  /** Normalised path (no leading `./` or `/`, no trailing `/`; `""` is the archive root). */
  readonly path: string
  readonly type: EntryType
  /** Size of the entry's data in the archive (0 for links and directories). */
  readonly size: number
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Target of a symlink (as written) or hard link (normalised archive path); `""` otherwise. */
  readonly linkName: string
}

export interface TarEntry {
  readonly header: TarHeader
  /** The entry's bytes, only when the decoder was asked for them (`wantData`). */
  readonly data?: Uint8Array
}

export class TarError extends Data.TaggedError("TarError")<{
  readonly reason: "BadHeader" | "BadChecksum" | "Truncated"
  readonly message: string
}> {}

// --- paths and whiteouts -----------------------------------------------------------------------------------

/** `./a//b/` → `a/b`; `..` segments are resolved without ever leaving the root. */
export const normalizePath = (path: string): string => {
  const parts: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  return parts.join("/")
}

export const WHITEOUT_PREFIX = ".wh."
export const OPAQUE_WHITEOUT = ".wh..wh..opq"

export type Whiteout =
  /** `dir/.wh.name`: `dir/name` is deleted from the layers below. */
  | { readonly _tag: "Whiteout"; readonly target: string }
  /** `dir/.wh..wh..opq`: everything in `dir` from the layers below is hidden. */
  | { readonly _tag: "Opaque"; readonly directory: string }

const dirname = (path: string): string => {
  const slash = path.lastIndexOf("/")
  return slash < 0 ? "" : path.slice(0, slash)
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

const join = (directory: string, name: string): string => (directory === "" ? name : `${directory}/${name}`)

/** The whiteout a (normalised) path stands for, if any. Other `.wh..wh.` names (aufs metadata) are ignored. */
export const whiteoutOf = (path: string): Whiteout | undefined => {
  const name = basename(path)
  if (!name.startsWith(WHITEOUT_PREFIX)) return undefined
  if (name === OPAQUE_WHITEOUT) return { _tag: "Opaque", directory: dirname(path) }
  if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return undefined
  return { _tag: "Whiteout", target: join(dirname(path), name.slice(WHITEOUT_PREFIX.length)) }
}

/** Where a symlink at `linkPath` pointing at `target` leads, as a normalised path from the root. */
export const resolveLink = (linkPath: string, target: string): string =>
  normalizePath(target.startsWith("/") ? target : join(dirname(linkPath), target))

// --- header fields -----------------------------------------------------------------------------------------

const decoder = new TextDecoder("utf-8")

const cString = (bytes: Uint8Array, offset: number, length: number): string => {
  const field = bytes.subarray(offset, offset + length)
  const nul = field.indexOf(0)
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul))
}

/** Octal ASCII (space/NUL padded) or GNU base-256 (high bit of the first byte set). */
const numeric = (bytes: Uint8Array, offset: number, length: number): number | undefined => {
  const first = bytes[offset] ?? 0
  if ((first & 0x80) !== 0) {
    let value = first & 0x3f
    if ((first & 0x40) !== 0) return undefined // negative
    for (let i = 1; i < length; i++) value = value * 256 + (bytes[offset + i] ?? 0)
    return Number.isSafeInteger(value) ? value : undefined
  }
  const text = cString(bytes, offset, length).trim()
  if (text === "") return 0
  if (!/^[0-7]+$/.test(text)) return undefined
  return Number.parseInt(text, 8)
}

const checksumOk = (block: Uint8Array): boolean => {
  const stored = numeric(block, 148, 8)
  if (stored === undefined) return false
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0)
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  return stored === unsigned || stored === signed
}

const isZeroBlock = (block: Uint8Array): boolean => block.every((byte) => byte === 0)

const typeOf = (flag: number, name: string): EntryType => {
  switch (String.fromCharCode(flag)) {
    case "0":
    case "\0":
    case "7":
      // V7 archives mark directories only by the trailing slash.
      return name.endsWith("/") ? "directory" : "file"
    case "1":
      return "hardlink"
    case "2":
      return "symlink"
    case "3":
      return "char"
    case "4":
      return "block"
    case "5":
      return "directory"
    case "6":
      return "fifo"
    default:
      return "other"
  }
}

/** PAX records: `"<len> <key>=<value>\n"` where `<len>` counts the whole record. */
export const parsePax = (bytes: Uint8Array): Either.Either<Record<string, string>, TarError> => {
  const records: Record<string, string> = {}
  let offset = 0
  const bad = (detail: string) => Either.left(new TarError({ reason: "BadHeader", message: `malformed PAX header: ${detail}` }))
  while (offset < bytes.length) {
    if (bytes[offset] === 0) break // padding
    const space = bytes.indexOf(0x20, offset)
    if (space < 0) return bad("record without a length")
    const lengthText = decoder.decode(bytes.subarray(offset, space))
    if (!/^\d+$/.test(lengthText)) return bad(`invalid record length ${JSON.stringify(lengthText)}`)
    const length = Number.parseInt(lengthText, 10)
    const end = offset + length
    if (length <= space - offset + 1 || end > bytes.length || bytes[end - 1] !== 0x0a) return bad("record length out of range")
    const record = decoder.decode(bytes.subarray(space + 1, end - 1))
    const equals = record.indexOf("=")
    if (equals <= 0) return bad("record without a key")
    records[record.slice(0, equals)] = record.slice(equals + 1)
    offset = end
  }
  return Either.right(records)
}

// --- decoder -----------------------------------------------------------------------------------------------

export interface DecoderOptions {
  /** Whether to collect the data of an entry (default: none are collected; their bytes are skipped). */
  readonly wantData?: (header: TarHeader) => boolean
}

export interface TarDecoder {
  /** Feeds the next bytes of the archive; returns the entries whose data ended within them, in order. */
  readonly write: (chunk: Uint8Array) => Either.Either<ReadonlyArray<TarEntry>, TarError>
  /** Declares the end of the input; fails when it ends inside a header or an entry's data. */
  readonly end: () => Either.Either<void, TarError>
}

interface Pending {
  /** GNU `L` long name / PAX `path` for the next entry. */
  path?: string
  linkName?: string
  size?: number
  uid?: number
  gid?: number
}

type State =
  | { readonly _tag: "Header" }
  | {
    readonly _tag: "Data"
    readonly header: TarHeader
    /** Bytes of data still to come (padding excluded). */
    remaining: number
    padding: number
    /** What to do with the data: collect it for the entry, or for a meta header (PAX / GNU long name). */
    readonly sink: "skip" | "entry" | "pax" | "paxGlobal" | "longName" | "longLink"
    readonly parts: Array<Uint8Array>
  }
  | { readonly _tag: "Padding"; remaining: number }
  | { readonly _tag: "Done" }

/** Meta entries carry at most this much data (GNU long names, PAX records). */
const META_LIMIT = 1 << 20

export const makeDecoder = (options: DecoderOptions = {}): TarDecoder => {
  const wantData = options.wantData ?? (() => false)
  const buffered: Array<Uint8Array> = []
  let bufferedBytes = 0
  let state: State = { _tag: "Header" }
  let pending: Pending = {}
  let global: Pending = {}
  let failed: TarError | undefined

  const takeBlock = (): Uint8Array | undefined => {
    if (bufferedBytes < BLOCK) return undefined
    const block = new Uint8Array(BLOCK)
    let filled = 0
    while (filled < BLOCK) {
      const head = buffered[0]!
      const take = Math.min(head.length, BLOCK - filled)
      block.set(head.subarray(0, take), filled)
      filled += take
      if (take === head.length) buffered.shift()
      else buffered[0] = head.subarray(take)
    }
    bufferedBytes -= BLOCK
    return block
  }

  /** Removes up to `max` bytes from the front of the buffer and returns them (without copying when possible). */
  const takeUpTo = (max: number): Array<Uint8Array> => {
    const out: Array<Uint8Array> = []
    let left = max
    while (left > 0 && buffered.length > 0) {
      const head = buffered[0]!
      if (head.length <= left) {
        out.push(head)
        buffered.shift()
        left -= head.length
        bufferedBytes -= head.length
      } else {
        out.push(head.subarray(0, left))
        buffered[0] = head.subarray(left)
        bufferedBytes -= left
        left = 0
      }
    }
    return out
  }

  const fieldsFrom = (records: Record<string, string>): Either.Either<Pending, TarError> => {
    const fields: Pending = {}
    const number = (key: string): Either.Either<number | undefined, TarError> => {
      const value = records[key]
      if (value === undefined) return Either.right(undefined)
      if (!/^\d+$/.test(value)) {
        return Either.left(new TarError({ reason: "BadHeader", message: `PAX ${key} is not a number: ${JSON.stringify(value)}` }))
      }
      return Either.right(Number.parseInt(value, 10))
    }
    if (records["path"] !== undefined) fields.path = records["path"]
    if (records["linkpath"] !== undefined) fields.linkName = records["linkpath"]
    return Either.gen(function*() {
      const size = yield* number("size")
      const uid = yield* number("uid")
      const gid = yield* number("gid")
      if (size !== undefined) fields.size = size
      if (uid !== undefined) fields.uid = uid
      if (gid !== undefined) fields.gid = gid
      return fields
    })
  }

  const readHeader = (block: Uint8Array): Either.Either<State, TarError> => {
    if (!checksumOk(block)) {
      return Either.left(new TarError({ reason: "BadChecksum", message: "tar header checksum mismatch (not a tar archive, or corrupt)" }))
    }
    const magic = cString(block, 257, 6)
    const rawName = cString(block, 0, 100)
    // POSIX ustar ("ustar\0") has a name prefix at 345; GNU ("ustar  \0") keeps other fields there.
    const prefix = magic === "ustar" ? cString(block, 345, 155) : ""
    const fullName = prefix !== "" ? `${prefix}/${rawName}` : rawName
    const flag = block[156] ?? 0
    const size = numeric(block, 124, 12)
    const mode = numeric(block, 100, 8)
    const uid = numeric(block, 108, 8)
    const gid = numeric(block, 116, 8)
    if (size === undefined || mode === undefined || uid === undefined || gid === undefined) {
      return Either.left(new TarError({ reason: "BadHeader", message: `invalid numeric field in the header of ${JSON.stringify(fullName)}` }))
    }
    const flagChar = String.fromCharCode(flag)
    const meta = flagChar === "x" ? "pax" : flagChar === "g" ? "paxGlobal" : flagChar === "L" ? "longName" : flagChar === "K" ? "longLink" : undefined
    if (meta !== undefined && size > META_LIMIT) {
      return Either.left(new TarError({ reason: "BadHeader", message: `${flagChar} header of ${size} bytes is too large` }))
    }
    const effective = { ...global, ...pending }
    const name = meta === undefined ? (effective.path ?? fullName) : fullName
    const type = typeOf(flag, name)
    const dataSize = meta === undefined ? (effective.size ?? size) : size
    const link = effective.linkName ?? cString(block, 157, 100)
    const header: TarHeader = {
      path: normalizePath(name),
      type,
      size: dataSize,
      mode,
      uid: effective.uid ?? uid,
      gid: effective.gid ?? gid,
      linkName: type === "hardlink" ? normalizePath(link) : type === "symlink" ? link : ""
    }
    if (meta === undefined) pending = {}
    // Links and directories carry no data even if a size is recorded (old archivers); others do.
    const carriesData = meta !== undefined || type === "file" || type === "other"
    const remaining = carriesData ? dataSize : 0
    const sink = meta ?? (carriesData && wantData(header) ? "entry" : "skip")
    return Either.right({
      _tag: "Data",
      header,
      remaining,
      padding: (BLOCK - (remaining % BLOCK)) % BLOCK,
      sink,
      parts: []
    })
  }

  const finishData = (
    current: Extract<State, { _tag: "Data" }>
  ): Either.Either<TarEntry | undefined, TarError> => {
    const data = current.sink === "skip" ? undefined : concat(current.parts)
    switch (current.sink) {
      case "skip":
        return Either.right({ header: current.header })
      case "entry":
        return Either.right({ header: current.header, data: data! })
      case "longName":
        pending.path = cString(data!, 0, data!.length)
        return Either.right(undefined)
      case "longLink":
        pending.linkName = cString(data!, 0, data!.length)
        return Either.right(undefined)
      case "pax":
      case "paxGlobal":
        return Either.flatMap(parsePax(data!), (records) =>
          Either.map(fieldsFrom(records), (fields) => {
            if (current.sink === "pax") pending = { ...pending, ...fields }
            else global = { ...global, ...fields }
            return undefined
          }))
    }
  }

  const step = (entries: Array<TarEntry>): Either.Either<boolean, TarError> => {
    switch (state._tag) {
      case "Done":
        takeUpTo(bufferedBytes)
        return Either.right(false)
      case "Header": {
        const block = takeBlock()
        if (block === undefined) return Either.right(false)
        if (isZeroBlock(block)) {
          state = { _tag: "Done" }
          return Either.right(true)
        }
        return Either.map(readHeader(block), (next) => {
          state = next
          return true
        })
      }
      case "Data": {
        const current = state
        if (current.remaining > 0) {
          const parts = takeUpTo(current.remaining)
          if (parts.length === 0) return Either.right(false)
          for (const part of parts) {
            current.remaining -= part.length
            if (current.sink !== "skip") current.parts.push(part)
          }
          if (current.remaining > 0) return Either.right(false)
        }
        return Either.map(finishData(current), (entry) => {
          if (entry !== undefined) entries.push(entry)
          state = { _tag: "Padding", remaining: current.padding }
          return true
        })
      }
      case "Padding": {
        const current = state
        if (current.remaining > 0) {
          for (const part of takeUpTo(current.remaining)) current.remaining -= part.length
          if (current.remaining > 0) return Either.right(false)
        }
        state = { _tag: "Header" }
        return Either.right(true)
      }
    }
  }

  const write = (chunk: Uint8Array): Either.Either<ReadonlyArray<TarEntry>, TarError> => {
    if (failed !== undefined) return Either.left(failed)
    if (chunk.length > 0) {
      buffered.push(chunk)
      bufferedBytes += chunk.length
    }
    const entries: Array<TarEntry> = []
    for (;;) {
      const progressed = step(entries)
      if (Either.isLeft(progressed)) {
        failed = progressed.left
        return Either.left(progressed.left)
      }
      if (!progressed.right) return Either.right(entries)
    }
  }

  const end = (): Either.Either<void, TarError> => {
    if (failed !== undefined) return Either.left(failed)
    // An archive may end without its two zero blocks (Go's archive/tar accepts EOF at a header boundary).
    if ((state._tag === "Header" && bufferedBytes === 0) || state._tag === "Done") return Either.void
    if (state._tag === "Padding" && bufferedBytes === 0) return Either.void
    return Either.left(new TarError({ reason: "Truncated", message: "tar archive ends in the middle of an entry" }))
  }

  return { write, end }
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const total = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Decodes a whole archive held in memory, collecting the data of every entry. */
export const entries = (archive: Uint8Array): Either.Either<ReadonlyArray<TarEntry>, TarError> => {
  const tar = makeDecoder({ wantData: () => true })
  return Either.flatMap(tar.write(archive), (found) => Either.map(tar.end(), () => found))
}
