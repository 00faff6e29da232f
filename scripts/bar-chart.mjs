// A dependency-free horizontal bar chart as SVG: one bar per row, a line at 1.0 (the baseline).

const escapeXml = (s) =>
  String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** Renders `points` ({ label, value }) as an SVG bar chart titled `title`. */
export function barChart(title, points) {
  const labelWidth = Math.min(420, 12 + 7 * Math.max(...points.map((p) => p.label.length)))
  const plotWidth = 420
  const rowHeight = 24
  const top = 36
  const width = labelWidth + plotWidth + 90
  const height = top + rowHeight * points.length + 16
  const max = Math.max(1, ...points.map((p) => p.value))
  const x = (v) => labelWidth + (v / max) * plotWidth
  const bars = points.map((p, i) => {
    const y = top + i * rowHeight
    const ours = /steadfast|ours|resilientclaude/i.test(p.label)
    return [
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeXml(p.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(p.value) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${ours ? '#2563eb' : '#9ca3af'}"/>`,
      `<text x="${x(p.value) + 6}" y="${y + 16}">${p.value.toFixed(2)}×</text>`,
    ].join('')
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)} (ratio to the bare baseline, dashed line = 1.0)</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...bars,
    `<line x1="${x(1)}" y1="${top - 4}" x2="${x(1)}" y2="${height - 8}" stroke="#ef4444" stroke-dasharray="4 3"/>`,
    `</svg>`,
  ].join('\n')
}
