import { afterEach, describe, expect, it, vi } from 'vitest'

const symbols = Symbol as { metadata?: symbol }

describe('Symbol.metadata polyfill', () => {
  const original = symbols.metadata
  afterEach(() => {
    if (original === undefined) delete symbols.metadata
    else symbols.metadata = original
    vi.resetModules()
  })

  it('installs the symbol esbuild also uses when Node lacks it', async () => {
    delete symbols.metadata
    vi.resetModules()
    await import('../src/index.js')
    expect(symbols.metadata).toBe(Symbol.for('Symbol.metadata'))
  })

  it('keeps an existing Symbol.metadata', async () => {
    const native = Symbol('Symbol.metadata')
    symbols.metadata = native
    vi.resetModules()
    await import('../src/index.js')
    expect(symbols.metadata).toBe(native)
  })
})
