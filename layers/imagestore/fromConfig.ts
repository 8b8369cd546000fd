/**
 * How the plugin options and a task's options become image-store settings, in one place so the plugin and the
 * `pull` command build the same thing: the driver's `auth` block (username/password, Docker config.json path,
 * credential helper), `hosts_dir` and `insecure_registries` configure the Registry and Credentials layers; the task's
 * `auth`, `force_pull` and `image_pull_timeout` are options of each pull.
 */
import { Layer, Redacted } from "effect"
import type { DriverConfig } from "../../src/config/DriverConfig.js"
import { parseGoDuration } from "../../src/config/Duration.js"
import type { TaskConfig } from "../../src/config/TaskConfig.js"
import type { UserPassword } from "../../src/image/Credentials.js"
import type { Containerd } from "../Containerd.js"
import * as Credentials from "../Credentials.js"
import * as ImageStore from "../ImageStore.js"
import * as Registry from "../Registry.js"

const userPassword = (username: string | undefined, password: string | undefined): UserPassword | undefined =>
  username !== undefined && username !== "" && password !== undefined && password !== "" ?
    { username, password: Redacted.make(password) } :
    undefined

export const credentialsConfig = (config: DriverConfig): Credentials.CredentialsConfig => ({
  auth: userPassword(config.auth?.username, config.auth?.password),
  helper: config.auth?.helper,
  dockerConfigPath: config.auth?.config
})

/** The Registry client's settings: the hosts dir (hosts.toml) and the insecure registries. */
export const registryConfig = (config: DriverConfig): Registry.RegistryConfig => ({
  insecureRegistries: config.insecure_registries,
  hostsDir: config.hosts_dir
})

/** Registry client with the driver's credential sources, hosts dir and insecure registries. */
export const registryLayer = (config: DriverConfig): Layer.Layer<Registry.Registry> =>
  Registry.layer(registryConfig(config)).pipe(
    Layer.provide(Credentials.layer(credentialsConfig(config)))
  )

/** The ImageStore of the driver: its snapshotter and registry settings; needs the Containerd client. */
export const imageStoreLayer = (
  config: DriverConfig,
  options: Omit<ImageStore.ImageStoreOptions, "snapshotter"> = {}
): Layer.Layer<ImageStore.ImageStore, never, Containerd> =>
  ImageStore.layer({ ...options, snapshotter: config.snapshotter }).pipe(Layer.provide(registryLayer(config)))

/** A task's pull options (its `image_pull_timeout` was validated when the task config was decoded). */
export const pullOptions = (task: TaskConfig): ImageStore.PullOptions => {
  const timeoutMillis = parseGoDuration(task.image_pull_timeout)
  return {
    auth: userPassword(task.auth?.username, task.auth?.password),
    forcePull: task.force_pull,
    ...(timeoutMillis !== undefined && timeoutMillis > 0 ? { timeout: timeoutMillis } : {})
  }
}
