import type { StreamParams } from './options.js'

/** What one image costs at most: Anthropic bills `width × height / 750`, and scales images down to about 1.15 megapixels. */
export const IMAGE_TOKENS = 1_600

/** What one PDF page costs, about: its text (1,500 to 3,000 tokens) plus its page image. */
export const PDF_PAGE_TOKENS = 3_000

/**
 * The rate limiter's estimate of a request's input tokens: 4 characters a token over the
 * system prompt, messages and tools, except that an image counts {@link IMAGE_TOKENS} and a PDF
 * {@link PDF_PAGE_TOKENS} per page (pages counted in a base64 PDF, else one), not the length
 * of their base64 data, which would overcharge the limiter a hundredfold.
 */
export function estimateInputTokens(params: StreamParams): number {
  let media = 0
  const text = JSON.stringify([params.system, params.messages, params.tools], (_key, value) => {
    const cost = mediaTokens(value)
    if (cost === undefined) return value
    media += cost
    return null
  })
  return Math.ceil((text?.length ?? 0) / 4) + media
}

/** The fixed cost of an image or PDF block; undefined for anything else (counted as text). */
function mediaTokens(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const block = value as { type?: unknown; source?: unknown }
  if (typeof block.source !== 'object' || block.source === null) return undefined
  const source = block.source as { type?: unknown; data?: unknown }
  if (block.type === 'image') return IMAGE_TOKENS
  // Text and content sources are read as text: their characters are what the model reads.
  if (block.type !== 'document' || source.type === 'text' || source.type === 'content') {
    return undefined
  }
  const pages = typeof source.data === 'string' ? pdfPages(source.data) : 1
  return pages * PDF_PAGE_TOKENS
}

// Page objects of a PDF (`/Type /Page`, not `/Pages`). PDFs that pack objects into compressed
// streams hide them: count one page then, like a PDF given by URL or file id.
function pdfPages(base64: string): number {
  const pdf = Buffer.from(base64, 'base64').toString('latin1')
  return Math.max(1, pdf.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0)
}
