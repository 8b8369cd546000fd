/**
 * What the driver tells Nomad it can do (DriverCapabilities in Nomad's plugins/drivers/proto/driver.proto): signals and exec,
 * image filesystem isolation (the driver mounts the task dirs itself), host, group (bridge/CNI netns made by
 * Nomad) and task network modes, and any volume mounts.
 */
import {
  type DriverCapabilities,
  DriverCapabilities_FSIsolation,
  DriverCapabilities_MountConfigs,
  NetworkIsolationSpec_NetworkIsolationMode
} from "../gen/plugins/drivers/proto/driver.js"

export const capabilities: DriverCapabilities = {
  sendSignals: true,
  exec: true,
  fsIsolation: DriverCapabilities_FSIsolation.IMAGE,
  networkIsolationModes: [
    NetworkIsolationSpec_NetworkIsolationMode.HOST,
    NetworkIsolationSpec_NetworkIsolationMode.GROUP,
    NetworkIsolationSpec_NetworkIsolationMode.TASK
  ],
  mustCreateNetwork: false,
  mountConfigs: DriverCapabilities_MountConfigs.ANY_MOUNTS,
  disableLogCollection: false,
  dynamicWorkloadUsers: false
}
