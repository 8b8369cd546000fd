/**
 * The Nomad client's side of StartTask for bench/start.mjs (which bundles this file in memory): launching the built
 * plugin as Nomad does, the SetConfig bytes, allocation directories with logmon's FIFOs, the TaskConfig message
 * and the Driver RPCs. The same helpers the integration tests use, so the benchmark drives the plugin exactly as
 * test/integration/lifecycle.test.ts does.
 */
export { driverCalls } from "../test/support/driverCalls.js"
export { makeAllocation, pluginConfigBytes, taskConfig } from "../test/support/nomadTask.js"
export { launch, nomadEnv, pluginDir, unary } from "../test/support/PluginProcess.js"
export { TaskState } from "../src/gen/plugins/drivers/proto/driver.js"
