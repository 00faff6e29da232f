/** Collects the bytes of a response as they are written, up to a limit. */
export class BodyCapture {
  #chunks: Uint8Array[] = []
  #size = 0
  readonly #limit: number
  /** True once the body outgrew the limit; the bytes are then dropped. */
  omitted = false

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Records one chunk as `res.write()`/`res.end()` receive it. */
  add(chunk: unknown, encoding?: unknown): void {
    if (this.omitted || chunk === undefined || chunk === null) return
    let bytes: Uint8Array
    if (typeof chunk === 'string') {
      bytes = Buffer.from(
        chunk,
        typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
      )
    } else if (chunk instanceof Uint8Array) {
      bytes = chunk
    } else {
      return
    }
    this.#size += bytes.byteLength
    if (this.#size > this.#limit) {
      this.omitted = true
      this.#chunks = []
      return
    }
    this.#chunks.push(bytes)
  }

  /** The bytes written so far (empty when omitted). */
  bytes(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0] as Uint8Array
    return Buffer.concat(this.#chunks)
  }
}

type AnyFn = (...args: unknown[]) => unknown

/** The part of `http.ServerResponse` the capture needs (Express and Koa both hand us one). */
export interface CapturableResponse {
  statusCode: number
  readonly destroyed: boolean
  write: AnyFn
  end: AnyFn
  readonly headersSent: boolean
  /** Node's serialized header block, set once the headers went out. */
  readonly _header?: string | null
  getHeaders(): Record<string, number | string | string[] | undefined>
  once(event: 'close', listener: () => void): unknown
  destroy(error?: Error): unknown
}

/** What capturing needs of a claim: finish with the response, or release. */
export interface ResponseSink {
  finish(
    status: number,
    headers: Record<string, number | string | string[] | undefined>,
    body: Uint8Array,
    bodyOmitted: boolean,
  ): Promise<void>
  release(): Promise<void>
  stopRenewing(): void
}

/** Lets an adapter that knows when the handler returned (Koa) release at once after an abort. */
export interface CaptureControl {
  handlerFinished(): void
}

/**
 * The response headers: from `getHeaders()`, or, once they went out (a stream, or `writeHead()`
 * with a headers object, which `getHeaders()` never sees), parsed from what was sent.
 */
function sentHeaders(
  res: CapturableResponse,
): Record<string, number | string | string[] | undefined> {
  const block = res._header
  if (!res.headersSent || typeof block !== 'string') return res.getHeaders()
  const headers: Record<string, string | string[]> = {}
  for (const line of block.split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const previous = headers[name]
    if (previous === undefined) headers[name] = value
    else if (Array.isArray(previous)) previous.push(value)
    else headers[name] = [previous, value]
  }
  return headers
}

/**
 * Wraps `res.write` and `res.end` (two own properties: each costs microseconds on Express's
 * re-prototyped response, so nothing more is added) so that every way of answering (`res.json`,
 * `res.send`, streams, `res.sendFile`, Koa bodies) is recorded, and holds back the final
 * `end()` until the record is stored: a client that saw the response always gets the replay.
 */
export function captureResponse(
  res: CapturableResponse,
  sink: ResponseSink,
  limit: number,
): CaptureControl {
  const capture = new BodyCapture(limit)
  let ended = false
  let closedEarly = false
  let handlerDone = false
  // The client left before the response ended. Releasing while the handler may still be running
  // would let a retry run alongside it, so the lease is left to lapse; once the handler is known
  // to be done (its end() call, or Koa's next() returning) the key is released.
  res.once('close', () => {
    if (ended) return
    closedEarly = true
    if (handlerDone) void sink.release()
    else sink.stopRenewing()
  })
  const { write, end } = res
  res.write = (...args: unknown[]) => {
    capture.add(args[0], args[1])
    return write.apply(res, args)
  }
  res.end = (...args: unknown[]) => {
    ended = true
    res.write = write
    res.end = end
    if (typeof args[0] !== 'function') capture.add(args[0], args[1])
    // A destroyed response means the client left before the handler finished: run it again.
    const stored =
      res.destroyed || closedEarly
        ? sink.release()
        : sink.finish(res.statusCode, sentHeaders(res), capture.bytes(), capture.omitted)
    // The caller's end() returned long ago; a late failure can only tear the response down.
    stored.then(() => end.apply(res, args)).catch((error: unknown) => res.destroy(error as Error))
    return res
  }
  return {
    handlerFinished() {
      handlerDone = true
      if (closedEarly && !ended) void sink.release()
    },
  }
}
