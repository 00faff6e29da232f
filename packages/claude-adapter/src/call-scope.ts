import { ClaudeTimeoutError, isClaudeTimeoutError } from './errors.js'
import type { ChainRun } from './model-chain.js'
import type { CallOptions, StreamParams } from './options.js'
import { estimateInputTokens } from './token-estimate.js'

/** A call in progress: its signal (the caller's and the deadline's), and what it has done so far. */
export interface CallScope extends ChainRun {
  readonly startedAt: number
  /** True once `timeoutMs` elapsed. */
  readonly timedOut: () => boolean
  /** Stops the deadline timer. */
  readonly dispose: () => void
}

/**
 * Starts the clock of a call: a deadline signal for `timeoutMs`, merged with the caller's signal.
 * `models` collects the models tried, for a caller that answers after the call failed.
 */
export function openScope(
  params: StreamParams,
  options: CallOptions,
  models: string[] = [],
): CallScope {
  const startedAt = Date.now()
  const controller = new AbortController()
  const timeoutMs = options.timeoutMs
  let timedOut = false
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          controller.abort(new ClaudeTimeoutError(timeoutMs))
        }, timeoutMs)
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal
  return {
    signal,
    deadline: timeoutMs === undefined ? undefined : startedAt + timeoutMs,
    tokens: estimateInputTokens(params),
    attempts: 0,
    models,
    startedAt,
    timedOut: () => timedOut,
    dispose: () => clearTimeout(timer),
  }
}

/** The deadline's own error when the call timed out, whatever the SDK reported for the abort. */
export function asTimeout(error: unknown, scope: CallScope, options: CallOptions): unknown {
  if (!scope.timedOut() || isClaudeTimeoutError(error)) return error
  return new ClaudeTimeoutError(options.timeoutMs ?? 0, { cause: error })
}
