// The results of a run as markdown (one table of medians, spreads and ratios per case, the budgets' verdicts, the
// machine) and as an SVG chart: one panel per case, each on its own scale, a bar per contender to its median with a
// p10–p90 whisker, and the budget as a dashed line.
import { fmt, summarize } from "./stats.mjs"

const unitText = (unit) => (unit === "%" ? " %" : ` ${unit}`)

const rowCells = (row, reference) => {
  const s = summarize(row.values)
  const u = unitText(row.unit)
  const spread = s.n === 1 ? "–" : `${fmt(s.p10)}–${fmt(s.p90)}`
  const range = s.n === 1 ? "–" : `${fmt(s.min)}–${fmt(s.max)}`
  const ratio = reference === undefined || reference.unit !== row.unit ? "" : `${(s.median / summarize(reference.values).median).toFixed(2)} ×`
  return `${fmt(s.median)}${u} | ${spread} | ${range} | ${s.n} | ${ratio}`
}

/** The markdown table of every section: case, contender, median, p10–p90, min–max, n, ratio to the reference. */
export const resultsTable = (results) => {
  const lines = ["| case | contender | median | p10–p90 | min–max | n | × reference |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
  for (const { sections } of results) {
    for (const section of sections) {
      const reference = section.rows.find((row) => row.label === section.reference)
      for (const [i, row] of section.rows.entries()) {
        const label = row.label === section.reference ? `${row.label} (reference)` : row.label
        lines.push(`| ${i === 0 ? section.title : ""} | ${label} | ${rowCells(row, reference)} |`)
      }
    }
  }
  return lines
}

export const verdictsTable = (results) => {
  const lines = ["| budget | measured | verdict |", "| --- | ---: | --- |"]
  for (const { sections } of results) {
    for (const section of sections) {
      for (const v of section.verdicts ?? []) lines.push(`| ${v.budget} | ${v.measured} | ${v.ok ? "within" : "**OVER**"} |`)
    }
  }
  return lines
}

export const verdictLines = (results) =>
  results.flatMap(({ sections }) => sections.flatMap((section) => (section.verdicts ?? []).map((v) => `${v.ok ? "within" : "OVER  "}  ${v.budget.replaceAll("`", "")}: ${v.measured}`)))

// ---------------------------------------------------------------------------------------------------------------
// SVG

const escape = (text) => String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("`", "")
const colors = { driver: "#2563a8", contender: "#8c8c8c", floor: "#b9b9b9", derived: "#cfcfcf" }

/** A chart of every section's charted rows (same unit within a section), one panel each on its own scale. */
export const chartSvg = (results, caption) => {
  const width = 960
  const labelWidth = 400
  const barLeft = labelWidth + 10
  const barWidth = 420
  const rowHeight = 22
  const parts = []
  let y = 62
  for (const { sections } of results) {
    for (const section of sections) {
      const rows = section.rows.filter((row) => row.chart !== false)
      if (rows.length === 0) continue
      const unit = rows[0].unit
      const summaries = rows.map((row) => summarize(row.values))
      const top = Math.max(...summaries.map((s) => s.p90), section.chartBudget?.value ?? 0) * 1.08
      const x = (value) => barLeft + (value / top) * barWidth
      parts.push(`<text x="10" y="${y}" class="title">${escape(section.title)}</text>`)
      y += 10
      const panelTop = y
      for (const [i, row] of rows.entries()) {
        const s = summaries[i]
        const cy = y + rowHeight / 2
        parts.push(`<text x="${labelWidth}" y="${cy + 4}" text-anchor="end">${escape(row.label)}</text>`)
        parts.push(`<rect x="${barLeft}" y="${y + 4}" width="${Math.max(1, x(s.median) - barLeft).toFixed(1)}" height="${rowHeight - 8}" fill="${colors[row.kind] ?? colors.derived}"/>`)
        if (s.n > 1) {
          parts.push(`<line x1="${x(s.p10).toFixed(1)}" x2="${x(s.p90).toFixed(1)}" y1="${cy}" y2="${cy}" class="whisker"/>`)
          parts.push(`<line x1="${x(s.p10).toFixed(1)}" x2="${x(s.p10).toFixed(1)}" y1="${cy - 4}" y2="${cy + 4}" class="whisker"/>`)
          parts.push(`<line x1="${x(s.p90).toFixed(1)}" x2="${x(s.p90).toFixed(1)}" y1="${cy - 4}" y2="${cy + 4}" class="whisker"/>`)
        }
        parts.push(`<text x="${(Math.max(x(s.p90), x(s.median)) + 6).toFixed(1)}" y="${cy + 4}">${fmt(s.median)}${escape(unitText(unit))}</text>`)
        y += rowHeight
      }
      if (section.chartBudget !== undefined) {
        const bx = x(section.chartBudget.value).toFixed(1)
        parts.push(`<line x1="${bx}" x2="${bx}" y1="${panelTop}" y2="${y}" class="budget"/>`)
        parts.push(`<text x="${bx}" y="${y + 12}" text-anchor="middle" class="budget-label">${escape(section.chartBudget.label)}</text>`)
        y += 14
      }
      y += 24
    }
  }
  const height = y
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    "<style>text{fill:#222}.title{font-weight:bold;font-size:13px}.whisker{stroke:#222;stroke-width:1}.budget{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:4 3}.budget-label{fill:#c0392b;font-size:11px}.caption{fill:#555;font-size:11px}</style>",
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" class="title">${escape(caption)}</text>`,
    `<text x="10" y="32" class="caption">bars: medians (driver blue, contenders grey); whiskers: p10–p90; dashed red: the budget. Each case on its own scale.</text>`,
    ...parts,
    "</svg>",
    ""
  ].join("\n")
}
