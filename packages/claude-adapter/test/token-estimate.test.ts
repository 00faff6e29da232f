import { describe, expect, it } from 'vitest'
import type { StreamParams } from '../src/index.js'
import { estimateInputTokens, IMAGE_TOKENS, PDF_PAGE_TOKENS } from '../src/token-estimate.js'
import { params } from './helpers.js'

const withBlock = (block: object) =>
  ({ ...params, messages: [{ role: 'user', content: [block] }] }) as StreamParams

describe('estimateInputTokens()', () => {
  it('counts 4 characters a token for text', () => {
    expect(estimateInputTokens(params)).toBe(
      Math.ceil(JSON.stringify([undefined, params.messages, undefined]).length / 4),
    )
  })

  it('counts an image a fixed estimate, whatever the size of its data', () => {
    const image = (data: string) =>
      estimateInputTokens(
        withBlock({ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }),
      )
    const small = image('AAAA')
    expect(image('A'.repeat(600_000))).toBe(small)
    expect(small).toBeGreaterThanOrEqual(IMAGE_TOKENS)
    expect(small).toBeLessThan(IMAGE_TOKENS + 50)
  })

  it('counts a base64 PDF per page', () => {
    const pdf = (pages: number) =>
      Buffer.from(
        `%PDF-1.4\n1 0 obj << /Type /Pages /Count ${pages} >> endobj\n${'<< /Type /Page >>\n'.repeat(pages)}`,
      ).toString('base64')
    const document = (pages: number) =>
      estimateInputTokens(
        withBlock({
          type: 'document',
          source: { type: 'base64', media_type: 'application/pdf', data: pdf(pages) },
        }),
      )
    expect(document(3) - document(1)).toBe(2 * PDF_PAGE_TOKENS)
    expect(document(1)).toBeLessThan(PDF_PAGE_TOKENS + 50)
  })
})
