// Runs benchmark cases one after the other, each in its own containerd namespace(s), and cleans up after every case
// whatever happens: what the case deferred (plugins, allocations, runc containers), then everything left in its
// namespaces (containers, tasks, snapshots, leases, images, content), the namespaces themselves and their cgroups.
// Everything temporary (plugin dirs and sockets, allocation dirs and FIFOs, bundles) lives in one scratch directory,
// removed at the end: TMPDIR points there for this process and the plugins it starts.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { removeNamespaceCgroups } from "./containerd.mjs"
import { loadEntry } from "./entries.mjs"

/**
 * Options: `{ address, registry, rounds, cpuProfDir?, timeline?, window?, tasks?, concurrent?, settleMs? }` plus
 * what a case reads itself. Resolves with `{ results: [{ name, sections }], failures: [{ name, error }] }`.
 */
export const runCases = async (cases, options) => {
  const scratch = mkdtempSync(join(tmpdir(), "cdd-bench-"))
  process.env.TMPDIR = scratch
  let interrupted = false
  const onSignal = (signal) => {
    if (interrupted) {
      console.error(`\n${signal} again: exiting without cleaning up (scratch ${scratch})`)
      process.exit(130)
    }
    interrupted = true
    console.error(`\n${signal}: stopping after the current step, then cleaning up`)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const suffix = `${process.pid}-${Date.now().toString(36)}`
  const results = []
  const failures = []
  try {
    const driver = await loadEntry("driver", scratch)
    for (const benchCase of cases) {
      if (interrupted) {
        failures.push({ name: benchCase.name, error: new Error("not run: interrupted") })
        continue
      }
      const deferred = []
      const namespaces = []
      const ctx = {
        ...options,
        scratch,
        driver,
        loadEntry: (name) => loadEntry(name, scratch),
        /** Throws once the run was interrupted: called between rounds. */
        check: () => {
          if (interrupted) throw new Error("interrupted")
        },
        /** Runs `fn` after the case, last deferred first, whether the case succeeded or not. */
        defer: (what, fn) => deferred.push({ what, fn }),
        /** A fresh containerd namespace of this case, emptied and removed after it. */
        namespace: (label) => {
          const namespace = `cdd-bench-${label}-${suffix}`
          namespaces.push(namespace)
          return namespace
        }
      }
      console.log(`\n== ${benchCase.title}`)
      const started = Date.now()
      let error
      let sections
      try {
        sections = await benchCase.run(ctx)
      } catch (caught) {
        error = caught
      }
      const cleanupErrors = []
      for (const { what, fn } of deferred.reverse()) {
        try {
          await fn()
        } catch (caught) {
          cleanupErrors.push(`${what}: ${caught.message}`)
        }
      }
      for (const namespace of namespaces) {
        const probe = driver.containerdProbe(options.address, namespace)
        try {
          await probe.clean()
          removeNamespaceCgroups(namespace)
        } catch (caught) {
          cleanupErrors.push(`namespace ${namespace}: ${caught.message}`)
        } finally {
          await probe.dispose()
        }
      }
      if (cleanupErrors.length > 0) {
        const cleanup = new Error(`cleaning up failed:\n  ${cleanupErrors.join("\n  ")}`)
        error = error === undefined ? cleanup : new Error(`${error.stack ?? error}\n${cleanup.message}`)
      }
      if (error === undefined) {
        results.push({ name: benchCase.name, sections })
      } else {
        failures.push({ name: benchCase.name, error })
        console.error(`\n!! ${benchCase.name} FAILED: ${error.stack ?? error}`)
      }
      console.log(`(${benchCase.name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`)
    }
  } finally {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    rmSync(scratch, { recursive: true, force: true })
  }
  return { results, failures }
}
