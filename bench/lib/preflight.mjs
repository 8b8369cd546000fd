// What the benchmarks need before they start, with what to do when it is missing: root (containers, cgroups,
// containerd's socket), the built plugin, ctr and runc, and the test environment (containerd, loopback registries,
// test images) up.
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")

export const preflight = () => {
  // runc lives in /usr/sbin, which a non-login root shell may not have on its PATH.
  process.env.PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`
  const problems = []
  if (process.getuid?.() !== 0) problems.push("run as root: the benchmarks start containers and read containerd's socket")
  if (!existsSync(resolve(root, "dist/containerd-driver.cjs"))) problems.push("dist/containerd-driver.cjs is missing: run `npm run build` (or use `npm run bench`, which builds)")
  for (const tool of ["ctr", "runc", "tar"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" })
    } catch {
      problems.push(`${tool} is not on PATH: run \`bash scripts/test-env.sh up\``)
    }
  }
  if (problems.length === 0) {
    try {
      execFileSync("bash", [resolve(root, "scripts/test-env.sh"), "status"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
    } catch (error) {
      problems.push(`the test environment is not ready: run \`bash scripts/test-env.sh up\` (or \`npm run bench\`, which does)\n${String(error.stderr ?? "").trim()}`)
    }
  }
  if (problems.length > 0) {
    console.error(`bench: cannot start:\n- ${problems.join("\n- ")}`)
    process.exit(1)
  }
}
