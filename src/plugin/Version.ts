/** The plugin's identity as Nomad sees it: `driver = "containerd-driver"` in jobs, and its version. */
export const pluginName = "containerd-driver"
/** Kept equal to package.json's version (a unit test checks it). */
export const pluginVersion = "0.1.0"
/** Nomad's only driver API version. */
export const apiVersions = ["v0.1.0"]
