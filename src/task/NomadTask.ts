/**
 * Nomad's TaskConfig message (plugins/drivers/proto/driver.proto) as the plain data runtime-spec generation reads
 * (src/oci/SpecInput.ts): 64-bit fields as numbers, enum network modes as names, absent messages as defaults.
 */
import {
  NetworkIsolationSpec_NetworkIsolationMode,
  type TaskConfig as TaskConfigPb
} from "../gen/plugins/drivers/proto/driver.js"
import type { NomadNetworkIsolation, NomadTask } from "../oci/SpecInput.js"

const networkModes: Readonly<Record<number, NomadNetworkIsolation["mode"]>> = {
  [NetworkIsolationSpec_NetworkIsolationMode.HOST]: "host",
  [NetworkIsolationSpec_NetworkIsolationMode.GROUP]: "group",
  [NetworkIsolationSpec_NetworkIsolationMode.TASK]: "task",
  [NetworkIsolationSpec_NetworkIsolationMode.NONE]: "none"
}

export const nomadTaskFromProto = (config: TaskConfigPb): NomadTask => {
  const allocated = config.resources?.allocatedResources
  const linux = config.resources?.linuxResources
  const isolation = config.networkIsolationSpec
  const hosts = isolation?.hostsConfig
  return {
    id: config.id,
    name: config.name,
    alloc_id: config.allocId,
    namespace: config.namespace === "" ? "default" : config.namespace,
    env: config.env,
    user: config.user,
    alloc_dir: config.allocDir,
    resources: {
      cpu_shares: Number(allocated?.cpu?.cpuShares ?? 0n),
      memory_mb: Number(allocated?.memory?.memoryMb ?? 0n),
      memory_max_mb: Number(allocated?.memory?.memoryMaxMb ?? 0n),
      linux: {
        cpu_shares: Number(linux?.cpuShares ?? 0n),
        memory_limit_bytes: Number(linux?.memoryLimitBytes ?? 0n),
        cpuset_cpus: linux?.cpusetCpus ?? "",
        cpuset_cgroup: linux?.cpusetCgroup ?? "",
        cpu_period: Number(linux?.cpuPeriod ?? 0n),
        cpu_quota: Number(linux?.cpuQuota ?? 0n),
        PercentTicks: linux?.PercentTicks ?? 0
      }
    },
    mounts: config.mounts.map((m) => ({
      task_path: m.taskPath,
      host_path: m.hostPath,
      readonly: m.readonly,
      propagation_mode: m.propagationMode
    })),
    devices: config.devices.map((d) => ({
      task_path: d.taskPath,
      host_path: d.hostPath,
      cgroup_permissions: d.cgroupPermissions
    })),
    ...(isolation === undefined
      ? {}
      : {
        network_isolation_spec: {
          mode: networkModes[isolation.mode] ?? "host",
          path: isolation.path,
          ...(hosts === undefined || (hosts.hostname === "" && hosts.address === "")
            ? {}
            : { hostsConfig: { hostname: hosts.hostname, address: hosts.address } })
        }
      }),
    ...(config.dns === undefined
      ? {}
      : { dns: { servers: config.dns.servers, searches: config.dns.searches, options: config.dns.options } })
  }
}
