/**
 * Which host facts a task's spec needs, so the caller gathers exactly those (and no more) before calling
 * buildSpec: device nodes to lstat, whether to list all of /dev, mount sources to realpath, which host files to
 * read.
 */
import { Either } from "effect"
import { type Policy, seccompEnabled } from "../policy/Policy.js"
import { isBindMount, resolveMountSource } from "./Mounts.js"
import type { NomadTask, TaskConfig } from "./SpecInput.js"

export interface HostFactsNeeded {
  /** lstat each into HostFacts.hostDevices. */
  readonly devicePaths: ReadonlyArray<string>
  /** privileged: put every node under /dev (recursively, not following symlinks) into HostFacts.hostDevices. */
  readonly allDevices: boolean
  /** realpath each into HostFacts.realpaths (relative mount sources, as resolved, and their directories). */
  readonly realpaths: ReadonlyArray<string>
  /** Read /etc/hosts into HostFacts.hostHosts. */
  readonly hostHosts: boolean
  /** Read the host's resolv.conf into HostFacts.hostResolvConf. */
  readonly hostResolvConf: boolean
  /** Read and parse (SpecJson.decodeJson) this file into HostFacts.seccompProfile. */
  readonly seccompProfile?: string
}

export const hostFactsNeeded = (
  task: TaskConfig,
  nomad: Pick<NomadTask, "alloc_dir" | "name" | "devices" | "dns" | "network_isolation_spec">,
  /** The task's effective policy, which decides whether a task without `seccomp` is confined. */
  policy?: Policy
): HostFactsNeeded => {
  const realpaths = new Set<string>()
  for (const m of task.mounts) {
    if (isBindMount(m) && m.source !== undefined && m.source !== "") {
      const resolved = resolveMountSource(m.source, nomad)
      if (Either.isRight(resolved) && resolved.right.within !== undefined) {
        realpaths.add(resolved.right.source)
        realpaths.add(resolved.right.within)
      }
    }
  }
  const hostNetworkExtras = task.host_network && task.extra_hosts.length > 0
  return {
    devicePaths: [...new Set([...task.devices, ...nomad.devices.map((d) => d.host_path)])],
    allDevices: task.privileged,
    realpaths: [...realpaths],
    hostHosts: hostNetworkExtras,
    hostResolvConf: nomad.dns !== undefined || (!task.host_network && task.host_dns),
    ...(seccompEnabled(task.seccomp, policy) && task.seccomp_profile !== undefined && task.seccomp_profile !== ""
      ? { seccompProfile: task.seccomp_profile }
      : {})
  }
}
