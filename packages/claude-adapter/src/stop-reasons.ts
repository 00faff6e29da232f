import type { Anthropic } from '@anthropic-ai/sdk'
import { type ClaudeAdapterError, RefusalError, TruncatedResponseError } from './errors.js'

/**
 * The error a finished answer's stop reason calls for, shared by `create` and `stream`: a
 * refusal always, a truncation (`max_tokens`, a full context window) with `onTruncated: 'error'`.
 */
export function stopReasonError(
  message: Anthropic.Message,
  onTruncated: 'return' | 'error' | undefined,
): ClaudeAdapterError | undefined {
  if (message.stop_reason === 'refusal') return new RefusalError(message)
  const truncated =
    message.stop_reason === 'max_tokens' || message.stop_reason === 'model_context_window_exceeded'
  return truncated && onTruncated === 'error' ? new TruncatedResponseError(message) : undefined
}
