/**
 * How a Nomad task maps onto containerd: its container id, the original driver's naming, kept so
 * containers stay recognisable and recoverable.
 */

/** cgroup v1: `<task>-<alloc>` (the Docker driver's convention); cgroup v2: `<alloc>.<task>.scope`. */
export const containerId = (cgroupVersion: 1 | 2, allocId: string, taskName: string): string =>
  cgroupVersion === 2 ? `${allocId}.${taskName}.scope` : `${taskName}-${allocId}`
