/**
 * The `sysctl` option: which kernel parameters a container may set. Only parameters the kernel keeps per
 * namespace qualify — anything else would change the whole host — and runc enforces exactly that when it
 * starts the container (its config validator, libcontainer/configs/validate, `sysctl`). Checking here
 * refuses such a task when its spec is built, with the rule in the message, instead of after the image pull.
 *
 * runc's rule, for this driver's containers (which always have their own IPC and UTS namespaces):
 *   - IPC: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax,
 *     kernel.shmmni, kernel.shm_rmid_forced and fs.mqueue.*;
 *   - network: net.*, but not in the host's network namespace (host_network);
 *   - UTS: kernel.domainname (kernel.hostname is refused: the spec's hostname sets it).
 * Keys may use "/" as separator (sysctl.d(5)); as in runc, when the first separator is "/", "/" and "." swap
 * roles ("net/ipv4/conf/eth0.100/rp_filter" is net.ipv4.conf.eth0/100.rp_filter). runc builds the /proc/sys
 * path from the key, so empty, "." and ".." parts are refused outright.
 */
import { Either } from "effect"
import { type SpecError, specError } from "./SpecError.js"

const ipcNamespaced: ReadonlyArray<string> = [
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
  "kernel.shm_rmid_forced"
]

/** The rule, as the messages state it. */
export const sysctlRule = "a task may set only namespaced kernel parameters: " +
  `${ipcNamespaced.join(", ")}, fs.mqueue.*, kernel.domainname, and net.* (not with host_network = true)`

/** runc's canonical form: with "/" as the first separator, "/" and "." are swapped. */
export const dottedSysctl = (key: string): string => {
  const first = key.search(/[./]/)
  if (first < 0 || key[first] === ".") return key
  return key.replace(/[./]/g, (c) => (c === "." ? "/" : "."))
}

const invalid = (message: string) => Either.left(specError("InvalidSysctl", message))

/** Whether a task may set `key`; the error says why not and what is allowed. */
export const checkSysctl = (key: string, hostNetwork: boolean): Either.Either<void, SpecError> => {
  if (key.trim() === "" || /[\s=]/.test(key)) {
    return invalid(`sysctl ${JSON.stringify(key)} is not a kernel parameter name`)
  }
  if (key.split(/[./]/).some((part) => part === "")) {
    return invalid(
      `sysctl ${JSON.stringify(key)} is not a kernel parameter name: its parts are separated by single dots ` +
        "(or slashes), with no empty, \".\" or \"..\" part"
    )
  }
  const name = dottedSysctl(key)
  if (ipcNamespaced.includes(name) || name.startsWith("fs.mqueue.") || name === "kernel.domainname") {
    return Either.void
  }
  if (name.startsWith("net.")) {
    return hostNetwork
      ? invalid(`sysctl ${key} would change the host's network stack; net.* sysctls cannot be set with host_network = true`)
      : Either.void
  }
  if (name === "kernel.hostname") {
    return invalid("sysctl kernel.hostname would fight the container's hostname; set the task's hostname option instead")
  }
  return invalid(`sysctl ${JSON.stringify(key)} is not namespaced, so setting it would change the host; ${sysctlRule}`)
}
