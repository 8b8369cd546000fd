/**
 * Device nodes: the task's `devices`, Nomad's device-plugin devices, and the host's whole /dev for privileged
 * tasks (containerd's WithHostDevices). Each device becomes a `linux.devices` node; named devices also get a
 * device-cgroup allow rule (privileged tasks allow every device with one rule instead).
 */
import { Either } from "effect"
import type { Device, DeviceCgroupRule } from "./RuntimeSpec.js"
import type { HostDeviceNode, NomadDevice } from "./SpecInput.js"
import { type SpecError, specError } from "./SpecError.js"

export interface DeviceGrant {
  readonly device: Device
  readonly rule: DeviceCgroupRule
}

const toDevice = (path: string, node: HostDeviceNode): Device => ({
  path,
  type: node.type,
  major: node.major,
  minor: node.minor,
  fileMode: node.fileMode,
  uid: node.uid,
  gid: node.gid
})

/** One host device exposed at `containerPath` with cgroup access `access`. */
export const grantDevice = (
  hostPath: string,
  containerPath: string,
  access: string,
  hostDevices: Readonly<Record<string, HostDeviceNode>>,
  origin: string
): Either.Either<DeviceGrant, SpecError> => {
  const relative = [hostPath, containerPath].find((path) => !path.startsWith("/"))
  if (relative !== undefined) {
    return Either.left(specError("InvalidDevice", `${origin}: device paths must be absolute, got ${JSON.stringify(relative)}`))
  }
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    return Either.left(
      specError("InvalidDevice", `${origin}: device permissions ${JSON.stringify(access)} must be a combination of r, w and m`)
    )
  }
  const node = Object.hasOwn(hostDevices, hostPath) ? hostDevices[hostPath] : undefined
  if (node === undefined) {
    return Either.left(
      specError("DeviceNotFound", `${origin}: ${hostPath} does not exist on this node or is not a device node`)
    )
  }
  return Either.right({
    device: toDevice(containerPath, node),
    rule: { allow: true, type: node.type, major: node.major, minor: node.minor, access }
  })
}

/** The task's `devices`: same path in the container, access rwm (the original's WithLinuxDevice). */
export const taskDevices = (
  paths: ReadonlyArray<string>,
  hostDevices: Readonly<Record<string, HostDeviceNode>>
): Either.Either<ReadonlyArray<DeviceGrant>, SpecError> =>
  Either.all(paths.map((p) => grantDevice(p, p, "rwm", hostDevices, "devices")))

/** Nomad's device-plugin devices: task path (default: the host path) and permissions (default rwm). */
export const nomadDevices = (
  devices: ReadonlyArray<NomadDevice>,
  hostDevices: Readonly<Record<string, HostDeviceNode>>
): Either.Either<ReadonlyArray<DeviceGrant>, SpecError> =>
  Either.all(
    devices.map((d) =>
      grantDevice(
        d.host_path,
        d.task_path === "" ? d.host_path : d.task_path,
        d.cgroup_permissions === "" ? "rwm" : d.cgroup_permissions,
        hostDevices,
        "device-plugin device"
      )
    )
  )

/** Directory names containerd's WithHostDevices does not descend into, and the file it skips. */
const skippedDirectories = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"])

/**
 * Every host device under /dev as WithHostDevices lists it: depth-first in name order, skipping the directories
 * above, /dev/console-like `console` files and FIFOs.
 */
export const allHostDevices = (hostDevices: Readonly<Record<string, HostDeviceNode>>): ReadonlyArray<Device> =>
  Object.entries(hostDevices)
    .filter(([path, node]) => {
      if (!path.startsWith("/dev/") || node.type === "p") return false
      const segments = path.slice("/dev/".length).split("/")
      const file = segments[segments.length - 1]
      return file !== "console" && file !== "" && !segments.slice(0, -1).some((dir) => skippedDirectories.has(dir))
    })
    .map(([path]) => path.split("/"))
    .sort(comparePathSegments)
    .map((segments) => {
      const path = segments.join("/")
      return toDevice(path, hostDevices[path]!)
    })

/** Directory-walk order: compare segment by segment (so /dev/cpu/0/x sorts before /dev/cpu_dma_latency). */
const comparePathSegments = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length - b.length
}

/** Adds devices to `linux.devices`; a device at an existing path replaces it in place. */
export const mergeDevices = (devices: ReadonlyArray<Device>, additions: ReadonlyArray<Device>): ReadonlyArray<Device> => {
  const result = [...devices]
  for (const device of additions) {
    const at = result.findIndex((d) => d.path === device.path)
    if (at >= 0) result[at] = device
    else result.push(device)
  }
  return result
}
