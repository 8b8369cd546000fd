// The Containerd layer against a real containerd (CONTAINERD_ADDRESS, default /run/containerd/containerd.sock):
// the shared contract (also run against FakeContainerd), plus what only a real daemon shows: version,
// an unreachable socket, and reconnecting after containerd restarts. Needs root; fails (never skips) when
// containerd is not reachable.
import { it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, copyFileSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Option, Schedule, Stream } from "effect"
import { beforeAll, describe, expect } from "vitest"
import type { Mount } from "../../src/gen/github.com/containerd/containerd/api/types/mount.js"
import { compareVersions, parseVersion } from "../../src/containerd/version.js"
import { Containerd, layer } from "../../layers/Containerd.js"
import { containerdContract, inTestNamespace, sha256 } from "../support/containerdContract.js"
import { integrationEnv, setupHint } from "./env.js"

const address = integrationEnv.containerdAddress
const realLayer = () => layer({ address, namespace: "containerd-driver-test" })

beforeAll(async () => {
  const reachable = await Effect.runPromise(
    Effect.flatMap(Containerd, (cd) => cd.version).pipe(Effect.either, Effect.provide(realLayer()))
  )
  if (reachable._tag === "Left") {
    throw new Error(`${reachable.left.message}\nThe containerd integration tests need a running containerd: ${setupHint}`)
  }
})

// The native snapshotter's mount is a plain host directory: a static busybox in it is a complete rootfs.
const rootfsDirectory = (mounts: ReadonlyArray<Mount>) => mounts[0]?.source ?? ""

/** statfs magic of cgroup2fs: /sys/fs/cgroup is the unified hierarchy (else the host runs cgroup v1). */
const cgroup2Magic = 0x63677270

containerdContract("real containerd", realLayer, {
  prepareRootfs: (mounts) =>
    Effect.sync(() => {
      copyFileSync("/bin/busybox", join(rootfsDirectory(mounts), "busybox"))
      chmodSync(join(rootfsDirectory(mounts), "busybox"), 0o755)
    }),
  cgroupVersion: statfsSync("/sys/fs/cgroup").type === cgroup2Magic ? 2 : 1,
  withNewClient: (body) => Effect.provide(body, realLayer()),
  // contractCommands.untilReleased polls for /released in its rootfs.
  release: ({ mounts }) => Effect.sync(() => writeFileSync(join(rootfsDirectory(mounts), "released"), ""))
})

describe("real containerd", () => {
  it.live("Version returns a version that parses", () =>
    inTestNamespace(realLayer(), () =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const { revision, version } = yield* cd.version
        const parsed = Option.getOrThrow(parseVersion(version))
        expect(parsed.major).toBeGreaterThanOrEqual(1)
        expect(compareVersions(parsed, { major: 1, minor: 6, patch: 0 })).toBeGreaterThanOrEqual(0)
        expect(revision).not.toBe("")
      })
    ))

  it.live("a missing socket fails quickly with Unavailable naming the socket path", () =>
    Effect.gen(function*() {
      const missing = join(tmpdir(), `no-containerd-${process.pid}.sock`)
      const error = yield* Effect.flip(Effect.flatMap(Containerd, (cd) => cd.version))
      expect(error.reason).toBe("Unavailable")
      expect(error.unreachable).toBe(true)
      expect(error.message).toContain(`containerd is not reachable at ${missing}`)
      expect(error.message).toContain("does not exist")
      const namespaced = yield* Effect.flip(Effect.flatMap(Containerd, (cd) => cd.containers.list({})))
      expect(namespaced.reason).toBe("Unavailable")
      // Content.Write has its own HTTP/2 connection: it fails the same way.
      const blob = Buffer.from("no daemon")
      const write = yield* Effect.flip(Effect.flatMap(Containerd, (cd) =>
        cd.content.write({ ref: "nowhere", expected: sha256(blob), total: blob.length, data: Stream.make(blob) })))
      expect(write.reason).toBe("Unavailable")
      expect(write.unreachable).toBe(true)
      expect(write.message).toContain(`containerd is not reachable at ${missing}`)
      expect(write.message).toContain("does not exist")
      return yield* Effect.void
    }).pipe(Effect.provide(layer({ address: join(tmpdir(), `no-containerd-${process.pid}.sock`), namespace: "x" }))))

  it.live("many concurrent Content.Writes share one connection without hitting its memory limit", () =>
    inTestNamespace(realLayer(), () =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        // 16 writers × 4 WRITEs in flight × 1 MiB: far more queued data than node:http2's default session limit.
        const blobs = Array.from({ length: 16 }, () => randomBytes(6 << 20))
        const results = yield* Effect.forEach(blobs, (blob, i) =>
          cd.content.write({
            ref: `concurrent-${i}`,
            expected: sha256(blob),
            total: blob.length,
            data: Stream.fromIterable(Array.from({ length: 96 }, (_, k) => blob.subarray(k << 16, (k + 1) << 16)))
          }), { concurrency: "unbounded" })
        expect(results.map((r) => r.alreadyExists)).toEqual(blobs.map(() => false))
        yield* Effect.forEach(blobs, (blob) => cd.content.delete({ digest: sha256(blob) }), { discard: true })
      })
    ), 60_000)

  it.live("a path that is not a socket fails with Unavailable naming the path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.flatMap(Containerd, (cd) => cd.version))
      expect(error.reason).toBe("Unavailable")
      expect(error.unreachable).toBe(true)
      expect(error.message).toContain("containerd is not reachable at /proc/version")
    }).pipe(Effect.provide(layer({ address: "/proc/version", namespace: "x" }))))

  describe("with a private containerd that restarts", () => {
    // A second daemon with its own root, state and socket, so restarting it cannot disturb other tests.
    let dir = ""
    let daemon: ChildProcess | undefined
    const socket = () => join(dir, "containerd.sock")
    const startDaemon = () => {
      daemon = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" })
    }
    const stopDaemon = () =>
      new Promise<void>((resolve) => {
        const current = daemon
        daemon = undefined
        if (current === undefined || current.exitCode !== null) return resolve()
        current.once("exit", () => resolve())
        current.kill("SIGTERM")
      })

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "cd-restart-"))
      writeFileSync(
        join(dir, "config.toml"),
        [
          "version = 2",
          `root = "${dir}/root"`,
          `state = "${dir}/state"`,
          "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
          "[grpc]",
          `  address = "${dir}/containerd.sock"`,
          "[ttrpc]",
          `  address = "${dir}/containerd.sock.ttrpc"`
        ].join("\n")
      )
      return async () => {
        await stopDaemon()
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it.live("calls fail with Unavailable while containerd is down and succeed again after it restarts", () =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const untilUp = Schedule.spaced("100 millis").pipe(Schedule.upTo(Duration.seconds(20)))
        startDaemon()
        yield* cd.version.pipe(Effect.retry(untilUp))
        yield* Effect.promise(stopDaemon)
        const down = yield* Effect.flip(cd.version)
        expect(down.reason).toBe("Unavailable")
        expect(down.unreachable).toBe(true)
        startDaemon()
        // The same client (one channel) reconnects by itself; grpc-js's reconnect backoff is capped at 5 s.
        const version = yield* cd.version.pipe(
          Effect.retry({ schedule: untilUp, while: (error) => error.reason === "Unavailable" })
        )
        expect(version.version).not.toBe("")
        const { leases } = yield* cd.leases.list({})
        expect(leases).toEqual([])
        // Content.Write's own connection is replaced too: down, then up again.
        const blob = (text: string) => Buffer.from(text)
        const write = (bytes: Buffer) =>
          cd.content.write({ ref: `restart-${sha256(bytes)}`, expected: sha256(bytes), total: bytes.length, data: Stream.make(bytes) })
        expect((yield* write(blob("before"))).alreadyExists).toBe(false)
        yield* Effect.promise(stopDaemon)
        const writeDown = yield* Effect.flip(write(blob("while down")))
        expect(writeDown.reason).toBe("Unavailable")
        expect(writeDown.unreachable).toBe(true)
        startDaemon()
        yield* cd.version.pipe(Effect.retry({ schedule: untilUp, while: (error) => error.reason === "Unavailable" }))
        const after = yield* write(blob("after")).pipe(
          Effect.retry({ schedule: untilUp, while: (error) => error.reason === "Unavailable" })
        )
        expect(after.alreadyExists).toBe(false)
      }).pipe(Effect.provide(layer({ address: socket(), namespace: "restart-test" }))), 60_000)
  })
})
