/**
 * Nomad's bridge network as CNI configures it (client/allocrunner/networking_bridge_linux.go): a `loopback`, a
 * `bridge` named "nomad" with host-local addresses from 172.26.64.0/20 (masquerading, the bridge as gateway), a
 * `firewall` with Nomad's admin chain, and `portmap` for the group's ports (TCP and UDP, SNAT for hairpin and
 * localhost). Each plugin gets its own stdin document: the plugin's config with the network's name and version,
 * the previous plugin's result, and the runtime port mappings for portmap. Pure: layers/run/Network.ts runs them.
 */
import type { AllocatedPort } from "./TaskEnv.js"

export const bridgeName = "nomad"
export const allocSubnet = "172.26.64.0/20"
export const adminChain = "NOMAD-ADMIN"
export const networkName = "nomad"
export const cniVersion = "0.4.0"
/** The interface the allocation gets in its namespace (Nomad's bridgeNetworkAllocIfPrefix + 0). */
export const allocInterface = "eth0"

export type CniPlugin = Readonly<Record<string, unknown>> & { readonly type: string }

export const bridgePlugins: ReadonlyArray<CniPlugin> = [
  { type: "loopback" },
  {
    type: "bridge",
    bridge: bridgeName,
    ipMasq: true,
    isGateway: true,
    forceAddress: true,
    hairpinMode: false,
    ipam: { type: "host-local", ranges: [[{ subnet: allocSubnet }]], routes: [{ dst: "0.0.0.0/0" }] }
  },
  { type: "firewall", backend: "iptables", iptablesAdminChainName: adminChain },
  { type: "portmap", capabilities: { portMappings: true }, snat: true }
]

/** `network { mode = "none" }`: a namespace with only its loopback. */
export const nonePlugins: ReadonlyArray<CniPlugin> = [{ type: "loopback" }]

export interface PortMapping {
  readonly hostPort: number
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
}

export const portMappings = (ports: ReadonlyArray<AllocatedPort>): ReadonlyArray<PortMapping> =>
  ports.flatMap((p) => (["tcp", "udp"] as const).map((protocol) => ({ hostPort: p.value, containerPort: p.to, protocol })))

/** The stdin of one plugin call; `prevResult` is the chain's result so far (ADD) or the whole ADD result (DEL). */
export const pluginInput = (plugin: CniPlugin, mappings: ReadonlyArray<PortMapping>, prevResult: unknown): string => {
  const capabilities = plugin["capabilities"] as Record<string, boolean> | undefined
  return JSON.stringify({
    ...plugin,
    cniVersion,
    name: networkName,
    ...(prevResult === undefined ? {} : { prevResult }),
    ...(capabilities?.["portMappings"] === true ? { runtimeConfig: { portMappings: mappings } } : {})
  })
}

/** The allocation's IPv4 address in a CNI result (the first IP on the sandbox's interface). */
export const resultAddress = (result: unknown): string | undefined => {
  const r = result as { ips?: Array<{ address?: string; interface?: number }>; interfaces?: Array<{ sandbox?: string }> } | undefined
  const ip = r?.ips?.find((i) => i.interface === undefined || r.interfaces?.[i.interface]?.sandbox !== undefined)
  return ip?.address?.split("/")[0]
}
