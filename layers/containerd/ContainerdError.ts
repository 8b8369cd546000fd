/**
 * The one error of the Containerd layer. containerd reports its errdefs kinds as gRPC status codes
 * (NOT_FOUND, ALREADY_EXISTS, ...); `reason` names that kind, `detail` keeps containerd's own text and
 * `message` is what a user should read. `unreachable` separates "the daemon could not be reached"
 * (socket missing, refused, connection dropped — retry after containerd is back) from containerd's
 * own UNAVAILABLE answers such as a locked content ref.
 */
import { Data } from "effect"

export type ContainerdErrorReason =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "FailedPrecondition"
  | "Unavailable"
  | "Unimplemented"
  | "OutOfRange"
  | "DeadlineExceeded"
  | "Unknown"

export class ContainerdError extends Data.TaggedError("ContainerdError")<{
  readonly reason: ContainerdErrorReason
  /** Short RPC name, e.g. "Tasks.Create". */
  readonly method: string
  /** containerd's (or grpc-js's) own message. */
  readonly detail: string
  readonly message: string
  /** True when the call failed because containerd could not be reached at all. */
  readonly unreachable: boolean
  /** The gRPC status code, or -1 when the error did not come from gRPC. */
  readonly code: number
  readonly cause?: unknown
}> {}

/** gRPC status codes containerd's errdefs use. */
const reasonByCode: Readonly<Record<number, ContainerdErrorReason>> = {
  3: "InvalidArgument",
  4: "DeadlineExceeded",
  5: "NotFound",
  6: "AlreadyExists",
  9: "FailedPrecondition",
  11: "OutOfRange",
  12: "Unimplemented",
  14: "Unavailable"
}

export const reasonFromCode = (code: number): ContainerdErrorReason => reasonByCode[code] ?? "Unknown"

/** "/containerd.services.tasks.v1.Tasks/Create" → "Tasks.Create". */
export const shortMethodName = (path: string): string => {
  const [service = "", method = ""] = path.replace(/^\//, "").split("/")
  const serviceName = service.split(".").pop() ?? service
  return method === "" ? serviceName : `${serviceName}.${method}`
}

/** Strips a "unix://" or "unix:" scheme so messages show the socket path. */
export const socketPath = (address: string): string => address.replace(/^unix:(\/\/)?/, "")

const unreachableHint = (detail: string): string => {
  if (detail.includes("ENOENT")) return "the socket does not exist (is containerd running, and is this its [grpc] address?)"
  if (detail.includes("EACCES") || detail.includes("EPERM")) {
    return "permission denied on the socket (the driver must run as root or as a user allowed to open it)"
  }
  if (detail.includes("ECONNREFUSED")) return "connection refused (containerd is not running; the socket is stale)"
  return "the connection failed or was dropped (containerd may be restarting)"
}

/**
 * Whether an UNAVAILABLE status came from the transport rather than from containerd: containerd's
 * errdefs messages end in ": unavailable" (e.g. "ref ... locked for 1s ...: unavailable").
 */
const isTransportUnavailable = (detail: string): boolean => !/: unavailable\s*$/.test(detail)

/** grpc-js's transport detail without its empty trailer ("... Resolution note: " when name resolution had none). */
const transportDetail = (detail: string): string => detail.replace(/\s*Resolution note:\s*$/, "").trim()

export interface GrpcStatusLike {
  readonly code?: number | undefined
  readonly details?: string | undefined
  readonly message?: string | undefined
}

/** Maps a grpc-js error (ServiceError) of the call `path` on `address` to a ContainerdError. */
export const fromGrpcError = (error: GrpcStatusLike, path: string, address: string): ContainerdError => {
  const code = typeof error.code === "number" ? error.code : 2
  const detail = error.details ?? error.message ?? "unknown error"
  const method = shortMethodName(path)
  const reason = reasonFromCode(code)
  const unreachable = reason === "Unavailable" && isTransportUnavailable(detail)
  const message = unreachable
    ? `containerd is not reachable at ${socketPath(address)}: ${unreachableHint(detail)}: ${transportDetail(detail)}`
    : `containerd ${method}: ${detail}`
  return new ContainerdError({ reason, method, detail, message, unreachable, code, cause: error })
}

/** An error raised by this client itself (bad input, protocol violation), not by containerd. */
export const clientError = (
  reason: ContainerdErrorReason,
  method: string,
  detail: string,
  cause?: unknown
): ContainerdError =>
  new ContainerdError({
    reason,
    method,
    detail,
    message: `containerd ${method}: ${detail}`,
    unreachable: false,
    code: -1,
    ...(cause === undefined ? {} : { cause })
  })
