import * as timers from 'node:timers'

// Read once, when this module loads: fake timers installed later (vi.useFakeTimers(), sinon,
// which also patches the `timers` module) must not hold a corked socket until a fake clock moves.
const uncorkSoon = timers.setImmediate

/** What is read of an ioredis client to coalesce its writes. */
export interface WriteTarget {
  status?: string
  isCluster?: boolean
  options?: { enableAutoPipelining?: boolean; autoResendUnfulfilledCommands?: boolean }
  stream?: { cork?(): void; uncork(): void }
}

type Socket = NonNullable<WriteTarget['stream']>

/** Sockets corked now, across stores: flushed on process exit, so no held write is dropped. */
const corked = new Set<Socket>()
let flushOnExit = false

/**
 * Corks a client's socket until the loop's next check phase (setImmediate, where ioredis's
 * auto-pipelining flushes too), so the commands of every request handled before then leave in
 * one write and their replies come back in one read. Commands are held, never reordered.
 */
export class WriteCoalescer {
  readonly #target: WriteTarget
  #socket: Socket | undefined

  /** A coalescer for `client`, or undefined when its writes should go out as they come. */
  static for(client: WriteTarget): WriteCoalescer | undefined {
    const options = client.options
    // A Cluster or an auto-pipelined client batches on its own. Without resending, ioredis
    // drops the commands it wrote to a socket that closed, unsettled: holding them longer
    // would widen that window.
    if (client.isCluster === true || options?.enableAutoPipelining === true) return undefined
    if (options?.autoResendUnfulfilledCommands === false) return undefined
    return new WriteCoalescer(client)
  }

  private constructor(target: WriteTarget) {
    this.#target = target
  }

  /** Holds the socket's writes until the check phase; a socket that is not ready is left alone. */
  hold(): void {
    if (this.#socket !== undefined || this.#target.status !== 'ready') return
    const socket = this.#target.stream
    if (typeof socket?.cork !== 'function') return
    socket.cork()
    this.#socket = socket
    corked.add(socket)
    if (!flushOnExit) {
      flushOnExit = true
      process.once('exit', flushAll)
    }
    uncorkSoon(this.#release)
  }

  readonly #release = (): void => {
    const socket = this.#socket
    if (socket === undefined) return
    this.#socket = undefined
    corked.delete(socket)
    socket.uncork()
  }
}

/** Uncorks every held socket; on exit the writes then still reach the kernel, synchronously. */
function flushAll(): void {
  for (const socket of corked) socket.uncork()
  corked.clear()
}
