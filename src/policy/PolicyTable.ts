/**
 * The policy table `containerd-driver doctor` prints: every policy setting of the node and what each
 * `namespace_policy` block changes (`·` where a block keeps the node's value), so an operator sees at a glance what
 * the tasks of each Nomad namespace may do.
 */
import { type Policy, type PolicyConfig, nodePolicy, type Setting, settingName, settings } from "./Policy.js"

/** A cell's text, as the operator writes the value (capabilities lower case without CAP_). */
const show = (setting: Setting, value: Policy[Setting]): string => {
  if (typeof value === "boolean") return String(value)
  if (value.length === 0) return "none"
  return value.map((v) => (setting === "allow_caps" ? v.replace(/^CAP_/, "").toLowerCase() : v)).join(",")
}

/** Cells wider than this are wrapped after a comma. */
const maxCellWidth = 36

const wrap = (cell: string): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const part of cell.split(/(?<=,)/)) {
    if (line !== "" && line.length + part.length > maxCellWidth) {
      lines.push(line)
      line = ""
    }
    line += part
  }
  return [...lines, line]
}

const given = (config: PolicyConfig, label: string, setting: Setting): Policy[Setting] | undefined => {
  const block = config.namespace_policy[label]!
  switch (setting) {
    case "volumes_enabled":
      return block.volumes?.enabled
    case "allow_caps":
      return block.allow_caps === undefined ? undefined : nodePolicy({ ...config, allow_caps: block.allow_caps }).allow_caps
    default:
      return block[setting]
  }
}

/** The table as lines, a header first; columns padded to their widest cell. */
export const policyTable = (config: PolicyConfig): ReadonlyArray<string> => {
  const labels = Object.keys(config.namespace_policy).sort()
  const node = nodePolicy(config)
  const rows = [
    ["setting", "node", ...labels.map((label) => `namespace ${label}`)],
    ...settings.map((setting) => [
      settingName(setting),
      show(setting, node[setting]),
      ...labels.map((label) => {
        const value = given(config, label, setting)
        return value === undefined ? "·" : show(setting, value)
      })
    ])
  ].map((row) => row.map(wrap))
  const widths = rows[0]!.map((_, column) => Math.max(...rows.flatMap((row) => row[column]!.map((line) => line.length))))
  return rows.flatMap((row) => {
    const height = Math.max(...row.map((cell) => cell.length))
    return Array.from({ length: height }, (_, i) =>
      row.map((cell, column) => (cell[i] ?? "").padEnd(widths[column]!)).join("  ").trimEnd())
  })
}
