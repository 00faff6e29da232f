import type { Anthropic } from '@anthropic-ai/sdk'

/** The marker on a degraded answer: `message[DEGRADED] === true`. A registry symbol, so copies agree. */
export const DEGRADED: unique symbol = Symbol.for('@steadfast/claude-adapter.degraded') as never

/** A `Message` built by the `degrade` option instead of the API. */
export type DegradedMessage = Anthropic.Message & {
  /** Always `true`: marks the answer as degraded (see {@link isDegraded}). */
  readonly [DEGRADED]: true
}

/** The last-resort answer: text or a whole `Message`, from the request and the error that ended it. */
export type DegradeHandler = (
  params: Anthropic.MessageCreateParamsNonStreaming,
  error: unknown,
) => string | Anthropic.Message | Promise<string | Anthropic.Message>

/** True when `message` came from the `degrade` option, not from the API or the cache. */
export function isDegraded(message: Anthropic.Message): message is DegradedMessage {
  return (message as Partial<DegradedMessage>)[DEGRADED] === true
}

/**
 * Wraps a degrade answer as a valid `Message` (`stop_reason: 'end_turn'`, zero usage,
 * `id` starting with `msg_degraded_`) marked with {@link DEGRADED}.
 */
export function degradedMessage(
  params: Anthropic.MessageCreateParamsNonStreaming,
  answer: string | Anthropic.Message,
): DegradedMessage {
  const base: Anthropic.Message =
    typeof answer === 'string'
      ? {
          id: `msg_degraded_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
          type: 'message',
          role: 'assistant',
          model: params.model,
          content: [{ type: 'text', text: answer, citations: null }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          stop_details: null,
          container: null,
          diagnostics: null,
          usage: {
            input_tokens: 0,
            output_tokens: 0,
            cache_creation_input_tokens: null,
            cache_read_input_tokens: null,
            cache_creation: null,
            inference_geo: null,
            output_tokens_details: null,
            server_tool_use: null,
            service_tier: null,
            speed: null,
          },
        }
      : { ...answer }
  // Non-enumerable: JSON and deep-equality see a plain Message; the symbol stays readable.
  Object.defineProperty(base, DEGRADED, { value: true, enumerable: false })
  return base as DegradedMessage
}
