import type { Anthropic } from '@anthropic-ai/sdk'
import { StreamInterruptedError } from './errors.js'
import { stopReasonError } from './stop-reasons.js'
import { messageOf } from './stream-message.js'

type Event = Anthropic.RawMessageStreamEvent

/** A stream read up to its first content event; the rest is still to come. */
export interface ReadAhead {
  /** Events read so far, in order. */
  readonly buffered: Event[]
  /** The remaining events. */
  readonly rest: AsyncIterator<Event>
  /** True when the stream already ended cleanly with `message_stop`. */
  readonly complete: boolean
}

/**
 * Reads `stream` until its first content event (`content_block_delta`) or its end. Any failure
 * here (status error, SSE `error` event, cut connection, or an end without `message_stop`)
 * rejects, so the caller can retry or fail over without the consumer having seen anything.
 */
export async function readAhead(model: string, stream: AsyncIterable<Event>): Promise<ReadAhead> {
  const rest = stream[Symbol.asyncIterator]()
  const buffered: Event[] = []
  try {
    for (;;) {
      const step = await rest.next()
      if (step.done) {
        const last = buffered[buffered.length - 1]
        if (last?.type === 'message_stop') return { buffered, rest, complete: true }
        throw new StreamInterruptedError(model, '', usageOf(buffered), endedEarly())
      }
      buffered.push(step.value)
      if (step.value.type === 'content_block_delta') return { buffered, rest, complete: false }
    }
  } catch (error) {
    await rest.return?.()
    throw error
  }
}

/** How {@link continueStream} ends: the caller's signal, and the `onTruncated` rule of `create`. */
export interface ContinueOptions {
  readonly signal?: AbortSignal | undefined
  readonly onTruncated?: 'return' | 'error' | undefined
}

/**
 * Replays the read-ahead events, then passes the rest through. A break from then on becomes a
 * {@link StreamInterruptedError} carrying the partial text and usage. A `message_delta` whose
 * stop reason `create` would throw for (a refusal; a truncation with `onTruncated: 'error'`)
 * throws the same error instead of being yielded, its `response` the message streamed so far.
 */
export async function* continueStream(
  model: string,
  start: ReadAhead,
  options: ContinueOptions = {},
): AsyncGenerator<Event, void> {
  const { signal, onTruncated } = options
  const seen: Event[] = []
  let finished = start.complete
  const pass = (event: Event): Event => {
    seen.push(event)
    if (event.type === 'message_delta') {
      const message = messageOf(seen)
      const error = message && stopReasonError(message, onTruncated)
      if (error) throw error
    }
    return event
  }
  try {
    for (const event of start.buffered) yield pass(event)
    while (!finished) {
      let step: IteratorResult<Event>
      try {
        step = await start.rest.next()
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw new StreamInterruptedError(model, textOf(seen), usageOf(seen), error)
      }
      // The SDK ends a stream quietly when its signal aborts: that is the caller's cancel, not a break.
      if (signal?.aborted) throw signal.reason
      if (step.done) {
        if (seen[seen.length - 1]?.type !== 'message_stop') {
          throw new StreamInterruptedError(model, textOf(seen), usageOf(seen), endedEarly())
        }
        finished = true
        break
      }
      yield pass(step.value)
    }
  } finally {
    // A consumer that stops early must not leave the HTTP response open.
    if (!finished) await start.rest.return?.()
  }
}

function endedEarly(): Error {
  return new Error('The stream ended without message_stop')
}

/** Text of all text deltas seen, concatenated. */
export function textOf(events: readonly Event[]): string {
  let text = ''
  for (const event of events) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
      text += event.delta.text
    }
  }
  return text
}

/** Usage from `message_start`, updated by `message_delta`; undefined before `message_start`. */
export function usageOf(events: readonly Event[]): Anthropic.Usage | undefined {
  let usage: Anthropic.Usage | undefined
  for (const event of events) {
    if (event.type === 'message_start') usage = { ...event.message.usage }
    else if (event.type === 'message_delta' && usage !== undefined) {
      usage.output_tokens = event.usage.output_tokens
    }
  }
  return usage
}
