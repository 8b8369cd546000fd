/**
 * go-plugin's launch contract as Nomad uses it (hashicorp/go-plugin docs/internals.md, server.go; hashicorp/nomad
 * plugins/base/plugin.go): the magic cookie, app-protocol negotiation and the handshake line, the only thing ever
 * written to stdout.
 */
export const magicCookieKey = "NOMAD_PLUGIN_MAGIC_COOKIE"
export const magicCookieValue = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255"
export const coreProtocolVersion = 1
export const appProtocolVersion = 2

export type LaunchCheck =
  | { readonly _tag: "Ok" }
  | { readonly _tag: "NotLaunchedByNomad"; readonly message: string }
  | { readonly _tag: "IncompatibleHost"; readonly message: string }

export const notAPluginMessage = [
  "This binary is a plugin. These are not meant to be executed directly.",
  "Please execute the program that consumes these plugins, which will",
  "load any plugins automatically.",
  "",
  "To use it, copy it into the Nomad client's plugin_dir and add a",
  "  plugin \"containerd-driver\" { config { ... } }",
  "block to the client configuration. To check this node, run:",
  "  containerd-driver doctor"
].join("\n")

/** Whether the environment is that of a Nomad agent launching its plugin. */
export const checkLaunch = (env: NodeJS.ProcessEnv): LaunchCheck => {
  if (env[magicCookieKey] !== magicCookieValue) return { _tag: "NotLaunchedByNomad", message: notAPluginMessage }
  const offered = (env["PLUGIN_PROTOCOL_VERSIONS"] ?? String(appProtocolVersion)).split(",").map((v) => v.trim())
  if (!offered.includes(String(appProtocolVersion))) {
    return {
      _tag: "IncompatibleHost",
      message: `the host offers plugin protocol versions ${offered.join(",")}, this plugin speaks ${appProtocolVersion}`
    }
  }
  return { _tag: "Ok" }
}

/** `1|2|unix|/tmp/plugin123|grpc|`: six fields like Go servers print, the certificate left empty. */
export const handshakeLine = (socketPath: string): string =>
  `${coreProtocolVersion}|${appProtocolVersion}|unix|${socketPath}|grpc|\n`
