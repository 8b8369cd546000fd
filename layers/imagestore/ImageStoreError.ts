/**
 * The one error of the ImageStore layer. `message` keeps the original driver's wording (Roblox/nomad-driver-containerd
 * containerd/driver.go), `Error in pulling image <image>: <cause>`, with a cause that names the
 * reference; `recoverable` tells Nomad whether restarting the task later may succeed (registry or containerd
 * temporarily unavailable, timeouts) or not (bad reference, denied, not found, broken image).
 * Messages never contain credentials: registry and credential errors are built without them.
 */
import { Data, Duration } from "effect"
import type { ContainerdError } from "../containerd/ContainerdError.js"
import type { ImageConfigError } from "../../src/image/ImageConfig.js"
import type { ManifestError } from "../../src/image/Manifest.js"
import type { ReferenceError } from "../../src/image/Reference.js"
import { isRecoverable, type RegistryError } from "../../src/image/RegistryProtocol.js"
import type { TarError } from "../../src/image/Tar.js"
import type { PullProgress } from "./Progress.js"

export type ImageStoreErrorReason =
  | "InvalidReference"
  | "Unauthorized"
  | "NotFound"
  | "Unreachable"
  | "Timeout"
  | "Unsupported"
  | "Containerd"
  | "Corrupt"
  /** The registry answered in a way the client cannot use (TLS failure, bad token response, odd status). */
  | "Registry"

export class ImageStoreError extends Data.TaggedError("ImageStoreError")<{
  readonly reason: ImageStoreErrorReason
  /** The image as the user wrote it. */
  readonly image: string
  readonly message: string
  readonly recoverable: boolean
  readonly cause?: unknown
}> {}

/** What the image store was doing: picks the message prefix. */
export type Operation = "pull" | "read" | "remove"

const prefix = (operation: Operation, image: string): string => {
  switch (operation) {
    case "pull":
      return `Error in pulling image ${image}`
    case "read":
      return `Error in reading image ${image}`
    case "remove":
      return `Error in removing image ${image}`
  }
}

export const failure = (
  operation: Operation,
  image: string,
  reason: ImageStoreErrorReason,
  cause: string,
  options: { readonly recoverable?: boolean; readonly error?: unknown } = {}
): ImageStoreError =>
  new ImageStoreError({
    reason,
    image,
    message: `${prefix(operation, image)}: ${cause}`,
    recoverable: options.recoverable ?? false,
    ...(options.error === undefined ? {} : { cause: options.error })
  })

export const fromReferenceError = (image: string, error: ReferenceError): ImageStoreError =>
  failure("pull", image, "InvalidReference", error.message, { error })

const registryReason = (error: RegistryError): ImageStoreErrorReason => {
  switch (error.reason) {
    case "Unauthorized":
      return "Unauthorized"
    case "NotFound":
    case "ManifestUnknown":
      return "NotFound"
    case "Unreachable":
      return "Unreachable"
    case "Timeout":
      return "Timeout"
    case "DigestMismatch":
      return "Corrupt"
    case "Unsupported":
      return "Unsupported"
    case "Protocol":
      return "Registry"
  }
}

export const fromRegistryError = (image: string, error: RegistryError): ImageStoreError =>
  failure("pull", image, registryReason(error), error.message, { recoverable: isRecoverable(error), error })

/** containerd down or momentarily unable to answer → recoverable; anything else it refused is not. */
export const fromContainerdError = (operation: Operation, image: string, error: ContainerdError): ImageStoreError =>
  failure(operation, image, "Containerd", error.message, {
    recoverable: error.unreachable || error.reason === "Unavailable" || error.reason === "DeadlineExceeded",
    error
  })

export const fromManifestError = (image: string, error: ManifestError): ImageStoreError =>
  failure("pull", image, error.reason === "Unsupported" ? "Unsupported" : "Corrupt", error.message, { error })

export const fromConfigError = (operation: Operation, image: string, error: ImageConfigError): ImageStoreError =>
  failure(operation, image, "Corrupt", error.message, { error })

export const fromTarError = (image: string, layer: string, error: TarError): ImageStoreError =>
  failure("read", image, "Corrupt", `layer ${layer}: ${error.message}`, { error })

/**
 * `image_pull_timeout` passed. The message says what the pull was doing when it ran out (waiting for the registry,
 * for another pull of the same blob, or unpacking), so the user knows where the time went.
 */
export const timedOut = (
  image: string,
  reference: string,
  timeout: Duration.Duration,
  last?: PullProgress | undefined
): ImageStoreError => {
  const head = `the pull of ${reference} did not finish within ${Duration.format(timeout)} (image_pull_timeout)`
  const retried = "the pull is retried when the task restarts"
  const layers = last?.layers ?? []
  const blocked = layers.filter((layer) => layer.fetch === "blocked")
  const cause = blocked.length > 0 ?
    `${head} while it waited for another pull writing the same layer${blocked.length > 1 ? "s" : ""} ` +
      `(${blocked.map((layer) => layer.digest).join(", ")}) into the content store; ${retried}` :
    last?.phase === "unpack" ?
    `${head} while unpacking layers into the snapshotter ` +
      `(${layers.filter((layer) => layer.unpack === "unpacked").length} of ${layers.length} unpacked); ` +
      `a busy disk is temporary, and ${retried}` :
    `${head}; a slow or unreachable registry is temporary, and ${retried}`
  return failure("pull", image, "Timeout", cause, { recoverable: true })
}
