/**
 * The glob patterns of the operator options (`allow_runtimes`, `allowed_devices`, `extra_labels`, the names of
 * `namespace_policy` blocks): `*` matches any run of characters, `/` included, `?` any one character, and
 * everything else only itself — no classes, no escapes, so a pattern reads the same to everyone.
 */

export const isGlob = (pattern: string): boolean => pattern.includes("*") || pattern.includes("?")

/** Whether `text` matches `pattern` as a whole. */
export const globMatches = (pattern: string, text: string): boolean => {
  // Iterative wildcard matching with one backtrack point: linear in practice, never exponential.
  let p = 0
  let t = 0
  let star = -1
  let resume = 0
  while (t < text.length) {
    const c = pattern[p]
    if (c === "*") {
      star = p++
      resume = t
    } else if (c !== undefined && (c === "?" || c === text[t])) {
      p++
      t++
    } else if (star >= 0) {
      p = star + 1
      t = ++resume
    } else {
      return false
    }
  }
  while (pattern[p] === "*") p++
  return p === pattern.length
}

export const matchesAny = (patterns: ReadonlyArray<string>, text: string): boolean =>
  patterns.some((pattern) => globMatches(pattern, text))

/** How much of a pattern is literal: the more, the fewer names it matches. */
export const literalLength = (pattern: string): number => pattern.replace(/[*?]/g, "").length
