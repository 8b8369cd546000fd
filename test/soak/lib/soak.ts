/**
 * What the soak suite shares: its sizes (the short form inside `npm test`, the full form under SOAK=full from
 * `npm run soak`), where each case leaves its measured figures (SOAK_FIGURES, a directory scripts/soak.sh hands to
 * test/soak/report.mjs, which writes docs/reliability.md), and small helpers over /proc.
 */
import * as fs from "node:fs"
import type * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"

export const full = process.env["SOAK"] === "full"

export const sizes = full
  ? { crashTasks: 50, restartTasks: 20, cycles: 200, fuzzInputs: 10_000 }
  : { crashTasks: 5, restartTasks: 3, cycles: 20, fuzzInputs: 500 }

/** Records one case's figures for the report; without SOAK_FIGURES (a plain `npm test`) they are only printed. */
export const writeFigures = (name: string, figures: Record<string, unknown>): void => {
  const dir = process.env["SOAK_FIGURES"]
  const body = JSON.stringify({ case: name, form: full ? "full" : "short", at: new Date().toISOString(), ...figures }, null, 2)
  console.log(`soak figures ${name}: ${body}`)
  if (dir === undefined || dir === "") return
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.json`), body)
}

/** Runs `work` over `items` with at most `limit` at a time, keeping the order of the results. */
export const pool = async <A, B>(items: ReadonlyArray<A>, limit: number, work: (item: A, index: number) => Promise<B>): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Open file descriptors of a process. */
export const openFds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length

/** Resident memory of a process in KiB (VmRSS). */
export const rssKiB = (pid: number): number => {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
  if (line === undefined) throw new Error(`no VmRSS for ${pid}`)
  return Number(line.replace(/\D+/g, ""))
}

/** Least-squares slope of y over x. */
export const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx
}

/**
 * Numbered log lines `line 0`, `line 1`, ... as one task wrote them: how many arrived, how many numbers are
 * missing below the highest seen (lost), repeated, or lines that are not of that form (torn).
 */
export const lineAudit = (text: string) => {
  const lines = text.split("\n")
  const partial = lines.pop() !== ""
  const seen = new Set<number>()
  let repeated = 0
  let torn = partial ? 1 : 0
  for (const line of lines) {
    const m = /^line (\d+)$/.exec(line)
    if (m === null) {
      torn++
      continue
    }
    const n = Number(m[1])
    if (seen.has(n)) repeated++
    seen.add(n)
  }
  const highest = seen.size === 0 ? -1 : Math.max(...seen)
  return { lines: seen.size, lost: highest + 1 - seen.size, repeated, torn }
}

/** Numbered lines on stdout until the test puts `exit` into the task's local dir, then exit $EXIT_CODE; TERM exits 0. */
export const countingScript = (periodMicros: number) =>
  `trap "exit 0" TERM; i=0; while [ ! -e /local/exit ]; do echo "line $i"; i=$((i+1)); usleep ${periodMicros}; done; exit $EXIT_CODE`

/** `server` listening on a free loopback port: its host:port, and a close that also drops open connections. */
export const onLoopback = (server: http.Server): Promise<{ host: string; close: () => Promise<void> }> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => {
          server.close(() => r())
          server.closeAllConnections()
        })
      })))
