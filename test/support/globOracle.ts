/**
 * An operator option's glob pattern as a regular expression, built as the option docs describe patterns: `*` any
 * run of characters, `/` included, `?` any one character, everything else itself. The expected values of the glob
 * and policy tests, independent of src/policy/Glob.ts.
 */
const globAsRegExp = (pattern: string): RegExp =>
  new RegExp(
    `^${[...pattern].map((c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))).join("")}$`
  )

/** Whether the text matches the pattern, by the regular expression above. */
export const globOracle = (pattern: string, text: string): boolean => globAsRegExp(pattern).test(text)
