/**
 * The Nomad client's side of the driver for the benchmarks (bench/lib/entries.mjs bundles this file in memory):
 * launching the built plugin as Nomad does, the SetConfig bytes, allocation directories with logmon's FIFOs, the
 * TaskConfig message and the Driver RPCs — the helpers the integration tests use, so the benchmarks drive the plugin
 * exactly as test/integration/lifecycle.test.ts does — and a probe of the benchmark's containerd namespace, which
 * also removes everything in it at the end.
 */
export { driverCalls } from "../test/support/driverCalls.js"
export { makeAllocation, pluginConfigBytes, taskConfig } from "../test/support/nomadTask.js"
export { launch, nomadEnv, pluginDir, unary } from "../test/support/PluginProcess.js"
export { containerdProbe } from "../test/support/containerdProbe.js"
export { TaskState } from "../src/gen/plugins/drivers/proto/driver.js"
