// Reads the markdown tables the package benches write, and finds their ratio columns for charts.

/** Splits markdown into tables: { header: string[], rows: string[][] }. */
export function parseTables(markdown) {
  const tables = []
  let current
  for (const line of markdown.split('\n')) {
    const trimmed = line.trim()
    if (!trimmed.startsWith('|')) {
      current = undefined
      continue
    }
    const cells = trimmed
      .slice(1, trimmed.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim())
    if (!current) {
      current = { header: cells, rows: [] }
      tables.push(current)
    } else if (!cells.every((c) => /^:?-{3,}:?$/.test(c))) {
      current.rows.push(cells)
    }
  }
  return tables
}

const ratioInCell = /\(?\s*([\d.]+)\s*[×x]\s*\)?$/

/** The ratio a cell states (`1.27×`, `(1.27×)`, `0.85x`, or a plain number under a ratio header). */
export function ratioOf(cell, header) {
  const m = ratioInCell.exec(cell.replaceAll(',', ''))
  if (m) return Number(m[1])
  if (/×|ratio/i.test(header) && /^[\d.]+$/.test(cell)) return Number(cell)
  return undefined
}

/**
 * Chartable series of a table: one per column whose rows state ratios. Rows are labelled by the
 * leading text columns (joined when the first repeats, e.g. "unique keys / ours-redis").
 */
export function ratioSeries(table) {
  const series = []
  for (let col = 1; col < table.header.length; col++) {
    const header = table.header[col] ?? ''
    const points = []
    for (const row of table.rows) {
      const value = ratioOf(row[col] ?? '', header)
      if (value === undefined || !Number.isFinite(value)) continue
      const firstRepeats = table.rows.filter((r) => r[0] === row[0]).length > 1
      const label = (firstRepeats ? `${row[0]} / ${row[1]}` : (row[0] ?? '')).replaceAll('`', '')
      points.push({ label, value })
    }
    if (points.length >= 2) series.push({ title: header || table.header[0] || 'ratio', points })
  }
  return series
}
