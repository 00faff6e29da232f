import { timeout } from '../timeout.js'
import { methodDecorator, type ResilienceDecorator } from './decorate.js'

/**
 * Rejects the call with `TimeoutError` after `timeoutMs`; the method reads the attempt's
 * `AbortSignal` from `retryContext()` to stop its own work. The method becomes async.
 * `Infinity` sets no limit; limits past setTimeout's 2^31−1 ms are waited out in full.
 * @example @Timeout(20_000) async summarize(text: string) { const { signal } = retryContext()! … }
 */
export function Timeout(timeoutMs: number): ResilienceDecorator {
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`)
  return methodDecorator(
    'Timeout',
    { kind: 'timeout', timeoutMs },
    (method) =>
      function (this: unknown, ...args: unknown[]): Promise<unknown> {
        return timeout(() => method.apply(this, args), timeoutMs)
      },
  )
}
