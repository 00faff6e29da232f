import type { Anthropic } from '@anthropic-ai/sdk'

type Event = Anthropic.RawMessageStreamEvent

/**
 * The `Message` that raw stream `events` describe so far (what `create()` would have returned
 * had it ended there), or undefined before `message_start`. Tool inputs are parsed once whole.
 */
export function messageOf(events: readonly Event[]): Anthropic.Message | undefined {
  let message: Anthropic.Message | undefined
  const json = new Map<number, string>()
  for (const event of events) {
    if (event.type === 'message_start') {
      message = {
        ...event.message,
        content: [...event.message.content],
        usage: { ...event.message.usage },
      }
    } else if (message === undefined) {
    } else if (event.type === 'content_block_start') {
      message.content[event.index] = { ...event.content_block }
    } else if (event.type === 'content_block_delta') {
      const block = message.content[event.index]
      if (block !== undefined)
        message.content[event.index] = applyDelta(block, event.delta, json, event.index)
    } else if (event.type === 'message_delta') {
      applyMessageDelta(message, event)
    }
  }
  if (message !== undefined) {
    for (const [index, partial] of json) {
      const block = message.content[index]
      if (block?.type === 'tool_use' || block?.type === 'server_tool_use') {
        message.content[index] = { ...block, input: parseOr(partial, block.input) }
      }
    }
  }
  return message
}

function applyDelta(
  block: Anthropic.ContentBlock,
  delta: Anthropic.RawContentBlockDelta,
  json: Map<number, string>,
  index: number,
): Anthropic.ContentBlock {
  switch (delta.type) {
    case 'text_delta':
      return block.type === 'text' ? { ...block, text: block.text + delta.text } : block
    case 'citations_delta':
      return block.type === 'text'
        ? { ...block, citations: [...(block.citations ?? []), delta.citation] }
        : block
    case 'thinking_delta':
      return block.type === 'thinking'
        ? { ...block, thinking: block.thinking + delta.thinking }
        : block
    case 'signature_delta':
      return block.type === 'thinking' ? { ...block, signature: delta.signature } : block
    case 'input_json_delta':
      json.set(index, (json.get(index) ?? '') + delta.partial_json)
      return block
    default:
      return block
  }
}

// As the SDK's MessageStream does: output tokens always, other counters only when present.
function applyMessageDelta(
  message: Anthropic.Message,
  event: Anthropic.RawMessageDeltaEvent,
): void {
  message.stop_reason = event.delta.stop_reason
  message.stop_sequence = event.delta.stop_sequence
  message.stop_details = event.delta.stop_details
  if (event.delta.container != null) message.container = event.delta.container
  const usage = message.usage
  usage.output_tokens = event.usage.output_tokens
  if (event.usage.input_tokens != null) usage.input_tokens = event.usage.input_tokens
  if (event.usage.cache_creation_input_tokens != null)
    usage.cache_creation_input_tokens = event.usage.cache_creation_input_tokens
  if (event.usage.cache_read_input_tokens != null)
    usage.cache_read_input_tokens = event.usage.cache_read_input_tokens
  if (event.usage.server_tool_use != null) usage.server_tool_use = event.usage.server_tool_use
  if (event.usage.output_tokens_details != null)
    usage.output_tokens_details = event.usage.output_tokens_details
}

// A tool input cut short stays what `content_block_start` said rather than failing the error path.
function parseOr(text: string, fallback: unknown): unknown {
  if (text === '') return fallback
  try {
    return JSON.parse(text) as unknown
  } catch {
    return fallback
  }
}
