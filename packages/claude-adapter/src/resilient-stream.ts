import type { Anthropic } from '@anthropic-ai/sdk'
import type { CallMeta } from './options.js'

/** Opens the upstream stream (with retries and fallbacks) and fills in `holder.meta`. */
export type StreamOpener = (holder: {
  meta?: CallMeta
}) => Promise<{ stream: AsyncGenerator<Anthropic.RawMessageStreamEvent, void>; model: string }>

/**
 * The SDK's raw stream events of one call, iterable once. Nothing is sent before iteration
 * starts; failures before the first content event are retried and failed over unseen.
 */
export class ResilientStream implements AsyncIterable<Anthropic.RawMessageStreamEvent> {
  readonly #open: StreamOpener
  readonly #holder: { meta?: CallMeta } = {}
  #used = false

  constructor(open: StreamOpener) {
    this.#open = open
  }

  /** Metadata of the call once the first content event arrived (model, attempts…); undefined before. */
  get meta(): CallMeta | undefined {
    return this.#holder.meta
  }

  /** Opens the stream and yields its events; throws if the stream was already iterated. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Anthropic.RawMessageStreamEvent, void> {
    if (this.#used) throw new Error('A ResilientStream can be iterated only once')
    this.#used = true
    const { stream } = await this.#open(this.#holder)
    yield* stream
  }
}
