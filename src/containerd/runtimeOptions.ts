/**
 * The `Container.runtime.options` Any that goes with a ContainerRuntime. Only the runc shims
 * (io.containerd.runc.v1 / v2) read `containerd.runc.v1.Options`; for them a named binary becomes the
 * `binary_name` option, which makes the shim run e.g. `runsc` or `crun` where it would run `runc`. Every other
 * field keeps its zero value, which is what the shim assumes when no options are sent at all, so a container
 * with a binary name differs from one without in nothing else.
 */
import * as Runc from "../gen/github.com/containerd/containerd/api/types/runc/options/oci.js"
import type { Any } from "../gen/google/protobuf/any.js"
import type { ContainerRuntime } from "../oci/Spec.js"
import { AnyTypes } from "./any.js"

const runcFamily = /^io\.containerd\.runc\.v\d+$/

/**
 * The options to send, or undefined to send none: a shim other than runc's gets none (its own option types
 * differ), and so does a runc shim without a binary name (runc is its default).
 */
export const runtimeOptions = (runtime: ContainerRuntime): Any | undefined => {
  if (runtime.binaryName === undefined || runtime.binaryName === "" || !runcFamily.test(runtime.name)) return undefined
  const options = Runc.Options.fromPartial({ binaryName: runtime.binaryName })
  return { typeUrl: AnyTypes.RuncOptions.typeUrl, value: Buffer.from(AnyTypes.RuncOptions.encode(options)) }
}
