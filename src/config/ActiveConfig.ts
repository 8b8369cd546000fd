/**
 * The plugin config in force on a node: the decoded options and what they resolve to on this host. One
 * function builds it, so the plugin (SetConfig), `doctor`, `pull` and `spec` all see the same namespace.
 */
import type { DriverConfig } from "./DriverConfig.js"

export interface ActiveConfig {
  readonly config: DriverConfig
  /** The containerd namespace for tasks and images: the `namespace` option, else the original driver's choice. */
  readonly namespace: string
  readonly cgroupVersion: 1 | 2
}

/** The original driver's namespace when none is configured: `nomad`, or `nomad.slice` on unified cgroup v2 hosts. */
export const defaultNamespace = (cgroupVersion: 1 | 2): string => (cgroupVersion === 2 ? "nomad.slice" : "nomad")

export const activeConfig = (config: DriverConfig, cgroupVersion: 1 | 2): ActiveConfig => ({
  config,
  cgroupVersion,
  namespace: config.namespace ?? defaultNamespace(cgroupVersion)
})
