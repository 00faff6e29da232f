import type { Anthropic } from '@anthropic-ai/sdk'

/** The JSON body the fake received, as far as it reads it. */
export interface FakeRequestBody {
  /** Echoed in the answer; a request without it gets a 400, like the real API. */
  model?: string
  /** The reply is cut to this many tokens, with `stop_reason: 'max_tokens'`. @default 1024 */
  max_tokens?: number
  /** `true` asks for an SSE stream instead of one JSON answer. */
  stream?: boolean
  /** Counted in `input_tokens` (a string or text blocks). */
  system?: unknown
  /** Counted in `input_tokens`; the last user turn is what the default reply echoes. */
  messages?: unknown
  [key: string]: unknown
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'request_too_large',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

const ERROR_MESSAGES: Readonly<Record<string, string>> = {
  invalid_request_error: 'There was an issue with the format or content of your request.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'There is an issue with your billing or payment information.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'The requested resource was not found.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'This request would exceed the rate limit for your organization.',
  api_error: 'Internal server error',
  timeout_error: 'The request timed out.',
  overloaded_error: 'Overloaded',
}

/** The `error.type` Anthropic answers with for an HTTP status. */
export function errorTypeFor(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

/** Anthropic's error JSON: `{ type: 'error', error: { type, message, details? } }`. */
export function errorBody(
  type: string,
  message?: string,
  errorCode?: string,
): Record<string, unknown> {
  const error: Record<string, unknown> = {
    type,
    message: message ?? ERROR_MESSAGES[type] ?? 'Error',
  }
  if (errorCode !== undefined) error.details = { error_code: errorCode }
  return { type: 'error', error }
}

/** Rough token count used by the fake (and by our limiter's estimate): 4 characters a token. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

/** All text a request carries (system and messages), for token counts and the echo reply. */
export function inputText(body: FakeRequestBody): string {
  return collectText(body.system) + collectText(body.messages)
}

function collectText(value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(collectText).join('\n')
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    if (typeof record.text === 'string') return record.text
    if ('content' in record) return collectText(record.content)
  }
  return ''
}

/** The text of the last user turn, which the default reply echoes. */
export function lastUserText(body: FakeRequestBody): string {
  if (!Array.isArray(body.messages)) return ''
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const turn = body.messages[i] as { role?: unknown; content?: unknown } | undefined
    if (turn?.role === 'user') return collectText(turn.content)
  }
  return ''
}

/** Builds the deterministic answer for a request: the reply text, cut to `max_tokens`. */
export function buildMessage(
  id: string,
  body: FakeRequestBody,
  replyText: string,
  forcedStop: Anthropic.StopReason | undefined,
): Anthropic.Message {
  const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : 1024
  let text = replyText
  let stop: Anthropic.StopReason = 'end_turn'
  if (estimateTokens(text) > maxTokens) {
    text = text.slice(0, maxTokens * 4)
    stop = 'max_tokens'
  }
  if (forcedStop === 'refusal') text = ''
  if (forcedStop !== undefined) stop = forcedStop
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: body.model ?? 'unknown',
    content: text === '' ? [] : [{ type: 'text', text, citations: null }],
    stop_reason: stop,
    stop_sequence: null,
    stop_details:
      stop === 'refusal'
        ? {
            type: 'refusal',
            category: 'general_harms',
            explanation: 'Declined by the fake server.',
          }
        : null,
    container: null,
    diagnostics: null,
    usage: {
      input_tokens: estimateTokens(inputText(body)),
      output_tokens: text === '' ? 1 : estimateTokens(text),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: null,
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: 'standard',
      speed: null,
    },
  }
}

/** Anthropic's SSE event sequence for a message: start, one text block in word deltas, delta, stop. */
export function streamEvents(message: Anthropic.Message): Anthropic.RawMessageStreamEvent[] {
  const events: Anthropic.RawMessageStreamEvent[] = [
    {
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_details: null,
        usage: { ...message.usage, output_tokens: 1 },
      },
    },
  ]
  message.content.forEach((block, index) => {
    if (block.type !== 'text') return
    events.push({
      type: 'content_block_start',
      index,
      content_block: { type: 'text', text: '', citations: null },
    })
    for (const piece of block.text.match(/\S+\s*|\s+/g) ?? []) {
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: piece },
      })
    }
    events.push({ type: 'content_block_stop', index })
  })
  events.push(
    {
      type: 'message_delta',
      delta: {
        stop_reason: message.stop_reason,
        stop_sequence: null,
        stop_details: message.stop_details,
        container: null,
      },
      usage: {
        output_tokens: message.usage.output_tokens,
        input_tokens: null,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        output_tokens_details: null,
        server_tool_use: null,
      },
    },
    { type: 'message_stop' },
  )
  return events
}

/** One server-sent event in Anthropic's framing. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
