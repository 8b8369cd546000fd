/** README tables of the plugin and task options, derived from their declarations. */
import { driverOptions } from "./DriverConfig.js"
import type { Options } from "./Options.js"
import { taskOptions } from "./TaskConfig.js"

const rows = (options: Options, prefix: string): Array<string> =>
  Object.entries(options).flatMap(([name, option]) => {
    const hcl = option.hcl
    const type = hcl._tag === "Attr" ? hcl.type
      : hcl._tag === "Block" ? "block"
      : hcl._tag === "BlockList" ? "block list"
      : `blocks "${hcl.label}"`
    const required = hcl._tag === "Attr" && hcl.required ? "yes" : "no"
    const defaultText = option.defaultText === undefined ? "" : `\`${option.defaultText}\``
    const row = `| \`${prefix}${name}\` | ${type} | ${required} | ${defaultText} | ${option.doc} |`
    if (hcl._tag === "Attr") return [row]
    const nested = hcl._tag === "BlockMap" ? `${prefix}${name} "${hcl.label}".` : `${prefix}${name}.`
    return [row, ...rows(hcl.options, nested)]
  })

const table = (options: Options): string =>
  ["| option | type | required | default | description |", "| --- | --- | --- | --- | --- |", ...rows(options, "")]
    .join("\n")

export const driverOptionsTable = (): string => table(driverOptions)
export const taskOptionsTable = (): string => table(taskOptions)

/** The marker-delimited regions of the README that these tables own. */
export const readmeRegions = (): ReadonlyArray<{ readonly name: string; readonly content: string }> => [
  { name: "driver-options", content: driverOptionsTable() },
  { name: "task-options", content: taskOptionsTable() }
]

/** The README with each region replaced by its generated content. */
export const renderReadme = (readme: string): string =>
  readmeRegions().reduce(
    (text, { content, name }) =>
      text.replace(
        new RegExp(`(<!-- BEGIN ${name} -->)[\\s\\S]*?(<!-- END ${name} -->)`),
        (_, begin: string, end: string) => `${begin}\n${content}\n${end}`
      ),
    readme
  )
