// Soak: StartTask of an image behind a registry that fails the way registries fail (lib/faultyRegistry.ts). Each
// start must end — within its image_pull_timeout where the registry stalls — with a clear error saying what went
// wrong (or succeed, where the fault is transient and the pull retries), leave nothing partial in containerd
// (containers, tasks, snapshots, leases, content ingests, images), and a retry once the registry is healthy (or the
// task has the right credentials) must then succeed.
import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { driverFailure, type Harness, withHarness } from "../support/driverHarness.js"
import { integrationEnv } from "../integration/env.js"
import { type Fault, faultyRegistry, type FaultyRegistry, proxyUser, refusingPort } from "./lib/faultyRegistry.js"
import { writeFigures } from "./lib/soak.js"

/** Longer than any start here may take: reaching it is a hang. */
const hangBoundMs = 90_000
const pullTimeout = "5s"

interface Case {
  readonly fault: Fault | "refused"
  /** Whether the first start must fail (a transient fault the pull retries must not). */
  readonly fails: boolean
  /** What the error must say. */
  readonly says: RegExp
}

const cases: ReadonlyArray<Case> = [
  { fault: "refused", fails: true, says: /refused|ECONNREFUSED|not reachable|cannot reach/i },
  { fault: "stall", fails: true, says: /did not finish within 5s \(image_pull_timeout\)/ },
  { fault: "stall-blob", fails: true, says: /did not finish within 5s \(image_pull_timeout\)/ },
  { fault: "truncate-blob", fails: true, says: /./ },
  { fault: "500-blob", fails: true, says: /500/ },
  { fault: "500-once", fails: false, says: /^$/ },
  { fault: "corrupt-blob", fails: true, says: /digest|mismatch|verif/i },
  { fault: "auth", fails: true, says: /access denied|401|unauthori[sz]ed|credentials|authori[sz]ation/i }
]

const leftovers = (h: Harness) =>
  Promise.all([
    h.probe.state(),
    h.probe.images(),
    h.probe.run(Effect.flatMap(Containerd.Containerd, (cd) => cd.content.listStatuses({}))).then((r) => r.statuses.map((s) => s.ref)),
    h.probe.run(Effect.flatMap(Containerd.Containerd, (cd) => Stream.runCollect(cd.content.list({}))))
      .then((chunks) => Chunk.toReadonlyArray(chunks).flatMap((r) => r.info).length)
  ]).then(([state, images, ingests, blobs]) => ({ ...state, images, ingests, blobs }))

interface Outcome {
  readonly fault: string
  readonly firstStart: "failed" | "succeeded"
  readonly ms: number
  readonly message: string
  readonly recoverable: boolean | undefined
  readonly leftAfterFailure: Awaited<ReturnType<typeof leftovers>> | undefined
  readonly retry: "succeeded" | string
  readonly requests: number
}

const runCase = (c: Case): Promise<Outcome> => {
  let outcome: Outcome | undefined
  return withHarness({ prefix: `cdd-soak-reg`, containerdAddress: integrationEnv.containerdAddress }, async (h) => {
    let proxy: FaultyRegistry | undefined
    const port = c.fault === "refused" ? await refusingPort() : 0
    if (c.fault !== "refused") proxy = await faultyRegistry(integrationEnv.registry, c.fault)
    try {
      const host = proxy?.host ?? `127.0.0.1:${port}`
      const config = (auth: typeof proxyUser | undefined) => ({
        image: `${host}/test/busybox:latest`,
        image_pull_timeout: pullTimeout,
        command: "sleep",
        args: ["600"],
        ...(auth === undefined ? {} : { auth })
      })
      const first = h.prepare({ config: config(c.fault === "auth" ? { ...proxyUser, password: "wrong" } : undefined) })
      const started = Date.now()
      const result = await Promise.race([
        h.driver().start(first.config).then(() => undefined, (e: unknown) => driverFailure(e)),
        new Promise<"hang">((r) => setTimeout(() => r("hang"), hangBoundMs))
      ])
      const ms = Date.now() - started
      if (result === "hang") throw new Error(`StartTask behind a ${c.fault} registry did not answer within ${hangBoundMs} ms`)
      const leftAfterFailure = result === undefined ? undefined : await leftovers(h)
      if (result === undefined) await h.driver().destroy(first.config.id)
      else await h.driver().destroy(first.config.id).catch(() => {})

      // The registry heals (or the task gets the right credentials), and Nomad starts the task again.
      if (c.fault === "refused") proxy = await faultyRegistry(integrationEnv.registry, "pass", port)
      else if (c.fault !== "auth") proxy!.heal()
      const again = h.prepare({ config: config(c.fault === "auth" ? proxyUser : undefined) })
      const retry = await h.driver().start(again.config).then(
        async () => {
          await h.driver().destroy(again.config.id)
          return "succeeded"
        },
        (e: unknown) => `failed: ${driverFailure(e).message}`
      )
      outcome = {
        fault: c.fault,
        firstStart: result === undefined ? "succeeded" : "failed",
        ms,
        message: result?.message ?? "",
        recoverable: result?.recoverable,
        leftAfterFailure,
        retry,
        requests: proxy?.requests.length ?? 0
      }
    } finally {
      await proxy?.close()
    }
  }).then(() => outcome!)
}

describe("soak: registry faults", () => {
  it("every start fails clearly and leaves nothing, or succeeds; a retry then succeeds", { timeout: 600_000 }, async () => {
    const outcomes: Array<Outcome> = []
    // SOAK_FAULTS=corrupt-blob,auth runs only those (to replay one); SOAK_FAULT_ROUNDS repeats them.
    const only = process.env["SOAK_FAULTS"]?.split(",")
    const rounds = Number(process.env["SOAK_FAULT_ROUNDS"] ?? 1)
    const chosen = cases.filter((c) => only === undefined || only.includes(c.fault))
    for (let round = 0; round < rounds; round++) for (const c of chosen) outcomes.push(await runCase(c))
    writeFigures("registry-faults", { outcomes })
    for (const [c, o] of outcomes.map((o, i) => [chosen[i % chosen.length]!, o] as const)) {
      const seen = { fault: c.fault, first: o.firstStart, clear: c.says.test(o.message), retry: o.retry }
      expect(seen).toEqual({ fault: c.fault, first: c.fails ? "failed" : "succeeded", clear: true, retry: "succeeded" })
      // No stack traces or internal errors reach Nomad.
      expect(o.message).not.toMatch(/TypeError|ReferenceError|\n\s+at |undefined|\[object Object\]/)
      if (o.leftAfterFailure !== undefined) {
        const { blobs: _b, ...left } = o.leftAfterFailure
        expect({ fault: c.fault, ...left }).toEqual({ fault: c.fault, ...emptyNamespace, images: [], ingests: [] })
      }
    }
  })
})
