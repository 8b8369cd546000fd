// Soak: generated task and plugin configs (lib/fuzzInputs.ts) through the built plugin's gRPC boundary — StartTask's
// msgpack_driver_config and SetConfig's msgpack_config — and garbage protobuf frames on the same methods. The
// plugin must never crash (its process stays up and answers), and every rejection must be an error with a message
// a user can read: no stack trace, no TypeError, nothing empty. A task config that decodes is pointed at a loopback
// registry that knows no image, so nothing the fuzzer writes ever runs. The seed is printed for replay (FC_SEED).
import * as grpc from "@grpc/grpc-js"
import { Effect, Either, FastCheck as fc } from "effect"
import * as http from "node:http"
import { describe, expect, it } from "vitest"
import { gather } from "../../layers/HostFacts.js"
import { decodeConfig } from "../../src/config/Cty.js"
import { DriverConfig, driverOptions } from "../../src/config/DriverConfig.js"
import { TaskConfig, taskOptions } from "../../src/config/TaskConfig.js"
import * as ImageConfig from "../../src/image/ImageConfig.js"
import { hostFactsNeeded } from "../../src/oci/HostFactsNeeded.js"
import { buildSpec } from "../../src/oci/Spec.js"
import { admit } from "../../src/policy/Admission.js"
import { effectivePolicy } from "../../src/policy/Policy.js"
import { nomadTaskFromProto } from "../../src/task/NomadTask.js"
import { driverFailure, harness } from "../support/driverHarness.js"
import { pluginConfigBytes, taskConfigBytes } from "../support/nomadTask.js"
import { launch, nomadEnv, pluginDir, unary } from "../support/PluginProcess.js"
import { integrationEnv } from "../integration/env.js"
import { type FuzzInput, fuzzInputs } from "./lib/fuzzInputs.js"
import { full, onLoopback, pool, sizes, writeFigures } from "./lib/soak.js"

/** What no user may see in an error: a crash's traces and JavaScript's own complaints. */
const unclear =
  /TypeError|RangeError|ReferenceError|SyntaxError|\n\s+at |\[object Object\]|undefined is not|Cannot read prop|Maximum call stack|^\s*$|Encoded side|ReadonlyArray<|\{ readonly /

/** A registry that answers /v2/ and knows no image: every pull ends at once with "not found". */
const emptyRegistry = () =>
  onLoopback(http.createServer((req, res) => {
    if (req.url === "/v2/") return res.end("{}")
    res.writeHead(404, { "content-type": "application/json" })
    res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }))
  }))

const fetchBytes = (url: string, accept: string): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    http.get(url, { headers: { accept } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve(Buffer.concat(chunks)))
    }).on("error", reject))

/** The config of the test registry's busybox, as the fold gets an image's config. */
const busyboxConfig = async () => {
  const base = `http://${integrationEnv.registry}/v2/test/busybox`
  const manifest = JSON.parse((await fetchBytes(`${base}/manifests/latest`, "application/vnd.oci.image.manifest.v1+json")).toString()) as {
    config: { digest: string }
  }
  const document = ImageConfig.decode(await fetchBytes(`${base}/blobs/${manifest.config.digest}`, "*/*"), manifest.config.digest)
  if (Either.isLeft(document)) throw new Error(`busybox config: ${document.left.message}`)
  return document.right.config
}

/** A unary call with raw bytes as the request message. */
const rawCall = (client: grpc.Client, method: string, bytes: Buffer) =>
  new Promise<void>((resolve, reject) =>
    client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, bytes, { deadline: Date.now() + 30_000 }, (e) => (e ? reject(e) : resolve()))
  )

interface Tally {
  inputs: number
  accepted: number
  rejected: number
  byKind: Record<string, number>
  byCode: Record<string, number>
  /** Where the rejection came from, by the start of its message. */
  byStage: Record<string, number>
  unclear: Array<{ readonly input: string; readonly message: string }>
  examples: Array<string>
}

const tally = (): Tally => ({ inputs: 0, accepted: 0, rejected: 0, byKind: {}, byCode: {}, byStage: {}, unclear: [], examples: [] })

const describeInput = (input: FuzzInput) =>
  JSON.stringify({ kind: input.kind, bytes: Buffer.from(input.bytes).toString("base64").slice(0, 400) })

const record = (t: Tally, input: FuzzInput | string, outcome: "accepted" | { code: number; message: string }) => {
  t.inputs++
  const kind = typeof input === "string" ? input.split(" ").slice(0, 2).join(" ") : input.kind
  t.byKind[kind] = (t.byKind[kind] ?? 0) + 1
  if (outcome === "accepted") {
    t.accepted++
    return
  }
  t.rejected++
  const code = grpc.status[outcome.code] ?? String(outcome.code)
  t.byCode[code] = (t.byCode[code] ?? 0) + 1
  const stage = outcome.message.replace(/:.*$/s, "").replace(/ \S*[0-9]\S*$/, "").slice(0, 40)
  t.byStage[stage] = (t.byStage[stage] ?? 0) + 1
  if (unclear.test(outcome.message)) t.unclear.push({ input: typeof input === "string" ? input : describeInput(input), message: outcome.message.slice(0, 500) })
  else if (t.examples.length < 12 && !t.examples.some((e) => e.slice(0, 40) === outcome.message.slice(0, 40))) t.examples.push(outcome.message.slice(0, 300))
}

describe("soak: fuzzed configs through the plugin's gRPC boundary", () => {
  it(`${sizes.fuzzInputs} inputs: no crash, every rejection clear`, { timeout: full ? 1_800_000 : 170_000 }, async () => {
    const seed = Number(process.env["FC_SEED"] ?? Date.now() % 2 ** 31)
    const registry = await emptyRegistry()
    const h = await harness({ prefix: "cdd-soak-fuzz", containerdAddress: integrationEnv.containerdAddress })
    const dir = pluginDir()
    const configPlugin = await launch(dir, nomadEnv({ PLUGIN_UNIX_SOCKET_DIR: dir }))
    try {
      const pointed = (config: Record<string, unknown>) =>
        typeof config["image"] === "string" ? { ...config, image: `${registry.host}/fuzz/${(config["image"] as string).replace("IMAGE", "img")}` } : config
      const taskCount = Math.round(sizes.fuzzInputs * 0.6)
      const driverCount = Math.round(sizes.fuzzInputs * 0.3)
      const frameCount = sizes.fuzzInputs - taskCount - driverCount
      // Inputs that once crashed the plugin, first: an image name with a lone UTF-16 surrogate in it (grpc-js threw
      // on the error message that quoted it).
      const regressions: Array<FuzzInput> = [{ kind: "nomad-encoded", bytes: taskConfigBytes({ image: `${registry.host}/fuzz/UPPER/C\udce5` }) }]
      const taskInputs = [...regressions, ...fc.sample(fuzzInputs("task", taskOptions, pointed), { seed, numRuns: taskCount - regressions.length })]
      const driverInputs = fc.sample(fuzzInputs("driver", driverOptions, (c) => c), { seed: seed + 1, numRuns: driverCount })
      const frames = fc.sample(fc.uint8Array({ maxLength: 2000 }), { seed: seed + 2, numRuns: frameCount })

      const base = h.prepare({ config: { image: `${registry.host}/fuzz/base` } }).config
      const tasks = tally()
      // The inputs in flight when a plugin went away: the suspects of a crash, for the report and a replay.
      const inFlightAtDeath: Array<string> = []
      const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x))
      const started = Date.now()
      await pool(taskInputs, 4, async (input, i) => {
        const config = { ...base, id: `${base.allocId}/task/fuzz${i}`, msgpackDriverConfig: Buffer.from(input.bytes) }
        try {
          await h.driver().start(config)
          record(tasks, input, "accepted")
          await h.driver().destroy(config.id)
        } catch (error) {
          const failure = driverFailure(error)
          if (failure.code === grpc.status.UNAVAILABLE && /Connection dropped/.test(failure.message)) {
            inFlightAtDeath.push(`${describeInput(input)} config ${json(input.config).slice(0, 2000)}`)
          }
          record(tasks, input, { code: failure.code, message: failure.message })
        }
      })
      const drivers = tally()
      await pool(driverInputs, 4, async (input) => {
        try {
          await unary(configPlugin.base, configPlugin.base.setConfig, { msgpackConfig: Buffer.from(input.bytes), pluginApiVersion: "v0.1.0", nomadConfig: {} })
          record(drivers, input, "accepted")
        } catch (error) {
          const e = error as grpc.ServiceError
          record(drivers, input, { code: e.code, message: e.details ?? "" })
        }
      })
      const raw = tally()
      const methods = [
        [h.plugin().process.driver, "/hashicorp.nomad.plugins.drivers.proto.Driver/StartTask"],
        [h.plugin().process.driver, "/hashicorp.nomad.plugins.drivers.proto.Driver/RecoverTask"],
        [configPlugin.base, "/hashicorp.nomad.plugins.base.proto.BasePlugin/SetConfig"]
      ] as const
      await pool(frames, 4, async (bytes, i) => {
        const [client, method] = methods[i % methods.length]!
        const name = `frame ${method.split("/").pop()}`
        try {
          await rawCall(client, method, Buffer.from(bytes))
          record(raw, name, "accepted")
        } catch (error) {
          const e = error as grpc.ServiceError
          record(raw, `${name} ${Buffer.from(bytes).toString("base64").slice(0, 200)}`, { code: e.code, message: e.details ?? "" })
        }
      })
      // The task configs that decode, through the rest of what StartTask does before containerd — the policy's
      // admission, the host facts, the spec fold — in this process, with the test registry's busybox as the image
      // (the plugin above stopped at the pull). Refusals must be typed errors with a message; nothing may throw.
      const decodeTask = decodeConfig(TaskConfig, "task config")
      const driverConfig = Either.getOrThrow(decodeConfig(DriverConfig, "plugin config")(pluginConfigBytes({})))
      const imageConfig = await busyboxConfig()
      const fold = { decoded: 0, refusedByPolicy: 0, hostFactsErrors: 0, specErrors: 0, specs: 0, thrown: [] as Array<string>, unclear: [] as Array<string> }
      for (const input of taskInputs) {
        const decoded = decodeTask(input.bytes)
        if (Either.isLeft(decoded)) continue
        fold.decoded++
        const task = decoded.right
        try {
          const nomad = nomadTaskFromProto({ ...base, msgpackDriverConfig: Buffer.from(input.bytes) })
          const effective = effectivePolicy(driverConfig, "default")
          const admitted = admit(effective, task, driverConfig.containerd_runtime)
          if (Either.isLeft(admitted)) {
            fold.refusedByPolicy++
            if (unclear.test(admitted.left.message)) fold.unclear.push(admitted.left.message)
            continue
          }
          const host = await Effect.runPromise(Effect.either(gather(hostFactsNeeded(task, nomad, effective.policy))))
          if (Either.isLeft(host)) {
            fold.hostFactsErrors++
            if (unclear.test(host.left.message)) fold.unclear.push(host.left.message)
            continue
          }
          const spec = buildSpec({
            driver: { allow_privileged: effective.policy.allow_privileged, containerd_runtime: driverConfig.containerd_runtime, namespace: "fuzz", policy: effective.policy },
            task,
            nomad,
            image: { config: imageConfig },
            host: host.right,
            containerId: "fuzz",
            generatedDir: "/nonexistent/containerd-driver"
          })
          if (Either.isLeft(spec)) {
            fold.specErrors++
            if (unclear.test(spec.left.message)) fold.unclear.push(spec.left.message)
          } else fold.specs++
        } catch (error) {
          fold.thrown.push(`${String(error)} for ${describeInput(input)}`)
        }
      }
      const ms = Date.now() - started

      // Both processes still up and answering.
      const alive = [h.plugin().process, configPlugin].map((p) => p.child.exitCode === null && p.child.signalCode === null)
      const answers = await Promise.all([h.plugin().process, configPlugin].map((p) => unary(p.base, p.base.pluginInfo, {}).then(() => true, () => false)))
      const left = await h.probe.state()
      writeFigures("fuzz", {
        seed,
        inputs: tasks.inputs + drivers.inputs + raw.inputs,
        ms,
        crashes: alive.filter((a) => !a).length,
        stillAnswering: answers.every(Boolean),
        unclearRejections: tasks.unclear.length + drivers.unclear.length + raw.unclear.length + fold.unclear.length,
        thrown: fold.thrown.length,
        task: tasks,
        driver: drivers,
        rawFrames: raw,
        specFold: fold,
        leftContainers: left.containers.length,
        ...(alive.every(Boolean) ? {} : {
          inFlightAtDeath,
          taskPluginExit: { code: h.plugin().process.child.exitCode, signal: h.plugin().process.child.signalCode },
          taskPluginStderrTail: h.plugin().process.stderr().slice(-3000)
        })
      })
      const replay = `replay with FC_SEED=${seed}`
      expect(alive, replay).toEqual([true, true])
      expect(answers, replay).toEqual([true, true])
      expect([...tasks.unclear, ...drivers.unclear, ...raw.unclear], replay).toEqual([])
      expect({ thrown: fold.thrown, unclear: fold.unclear }, replay).toEqual({ thrown: [], unclear: [] })
      expect(left.containers, replay).toEqual([])
    } finally {
      configPlugin.close()
      await h.dispose()
      await registry.close()
    }
  })
})
