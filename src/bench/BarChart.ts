/**
 * A horizontal bar chart as plain SVG text: groups of bars (one group per job or mode, one bar
 * per program), each bar labelled with its value, and an optional target line. Pure: numbers
 * in, text out. The tools and memory suites draw their charts with it.
 */

export interface Bar {
  readonly label: string
  /** Undefined: not measured (the tool is not installed); drawn as a note, not a bar. */
  readonly value: number | undefined
  /** The bar of s3split, drawn in the accent colour. */
  readonly ours?: boolean
}

export interface BarGroup {
  readonly label: string
  readonly bars: ReadonlyArray<Bar>
}

export interface BarChartSpec {
  readonly title: string
  readonly subtitle: string
  /** The unit after each value, e.g. "s" or "MB". */
  readonly unit: string
  readonly groups: ReadonlyArray<BarGroup>
  /** A vertical line at this value, e.g. a memory target. */
  readonly target?: { readonly value: number; readonly label: string }
  readonly digits?: number
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** The SVG of `spec`. */
export const barChart = (spec: BarChartSpec): string => {
  const barHeight = 18
  const gap = 4
  const groupGap = 16
  const labelWidth = 300
  const plotWidth = 460
  const valueWidth = 130
  const top = 60
  const width = labelWidth + plotWidth + valueWidth + 20
  const rows = spec.groups.reduce((sum, group) => sum + 1 + group.bars.length, 0)
  const height = top + rows * (barHeight + gap) + spec.groups.length * groupGap + 30
  const values = spec.groups.flatMap((group) => group.bars.flatMap((bar) => (bar.value === undefined ? [] : [bar.value])))
  const max = Math.max(Number.MIN_VALUE, spec.target?.value ?? 0, ...values) * 1.05
  const x = (value: number) => labelWidth + (value / max) * plotWidth
  const digits = spec.digits ?? 2
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(spec.title)}</text>`,
    `<text x="10" y="40" fill="#555555">${escape(spec.subtitle)}</text>`
  ]
  let y = top
  for (const group of spec.groups) {
    parts.push(`<text x="10" y="${y + barHeight - 5}" font-weight="bold">${escape(group.label)}</text>`)
    y += barHeight + gap
    for (const bar of group.bars) {
      parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 5}" text-anchor="end">${escape(bar.label)}</text>`)
      if (bar.value === undefined) {
        parts.push(`<text x="${labelWidth + 4}" y="${y + barHeight - 5}" fill="#888888">not installed</text>`)
      } else {
        const color = bar.ours === true ? "#2ca02c" : "#7f7f7f"
        parts.push(
          `<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(bar.value) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
          `<text x="${(x(bar.value) + 6).toFixed(1)}" y="${y + barHeight - 5}">${bar.value.toFixed(digits)} ${escape(spec.unit)}</text>`
        )
      }
      y += barHeight + gap
    }
    y += groupGap
  }
  parts.push(`<line x1="${labelWidth}" y1="${top - 6}" x2="${labelWidth}" y2="${y - groupGap}" stroke="#333333"/>`)
  if (spec.target !== undefined) {
    const at = x(spec.target.value).toFixed(1)
    parts.push(
      `<line x1="${at}" y1="${top - 6}" x2="${at}" y2="${y - groupGap}" stroke="#d62728" stroke-dasharray="6 4"/>`,
      `<text x="${at}" y="${top - 10}" text-anchor="middle" fill="#d62728">${escape(spec.target.label)}</text>`
    )
  }
  parts.push("</svg>")
  return parts.join("\n") + "\n"
}
