import { OutgoingMessage, ServerResponse } from 'node:http'

// Called straight from Node's prototype: looking a method up on an Express response misses V8's
// inline caches on every request (see the prototype wrappers below).
const { getHeader, getHeaders } = OutgoingMessage.prototype

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

  /** Bytes written so far, counted on past the limit. */
  get size(): number {
    return this.#size
  }

  /** Records one chunk as `res.write()`/`res.end()` receive it. */
  add(chunk: unknown, encoding?: unknown): void {
    if (chunk === undefined || chunk === null) return
    let bytes: Uint8Array
    if (typeof chunk === 'string') {
      const coding = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'
      if (this.omitted) {
        this.#size += Buffer.byteLength(chunk, coding)
        return
      }
      bytes = Buffer.from(chunk, coding)
    } else if (chunk instanceof Uint8Array) {
      bytes = chunk
    } else {
      return
    }
    this.#size += bytes.byteLength
    if (this.omitted) return
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
/** The response methods the capture wraps. */
type WrappedMethods = { write: AnyFn; end: AnyFn; destroy: AnyFn }

/** The part of `http.ServerResponse` the capture needs (Express and Koa both hand us one). */
export interface CapturableResponse {
  statusCode: number
  readonly destroyed: boolean
  write: AnyFn
  end: AnyFn
  /** Node's serialized header block, set once the headers went out. */
  readonly _header?: string | null
  /** Node's Content-Length of the headers that went out, if they had one. */
  _contentLength?: number | null
  /** Node: true when the body that went out is chunked. */
  readonly chunkedEncoding?: boolean
  getHeaders(): Record<string, number | string | string[] | undefined>
  destroy(error?: Error): unknown
  /** Node: renders the header block from the status and headers set so far (sent with the body). */
  _implicitHeader(): void
}

/** What capturing needs of a claim: finish with the response, or release. */
export interface ResponseSink {
  /** Stores the response; a promise when the store answers asynchronously (see `ActiveClaim`). */
  finish(
    status: number,
    headers: Record<string, number | string | string[] | undefined>,
    body: Uint8Array,
    bodyOmitted: boolean,
    encoded?: boolean,
    headLength?: number,
  ): Promise<void> | undefined
  /** Drops the claim; a promise when the store answers asynchronously. */
  release(): Promise<void> | undefined
  /** Set by the capture: the response, asked on each renewal tick whether its client left. */
  response: { abandoned(): boolean } | undefined
  /** The headers `finish` reads (lower case); the capture may hand over only these. */
  readonly readHeaders?: readonly string[]
}

/** Lets an adapter that knows when the handler returned (Koa) release at once after an abort. */
export interface CaptureControl {
  /** `answered`: false when nothing answered the request (Koa's own 404): it is released. */
  handlerFinished(answered: boolean): void
  /**
   * The app tore the response down before its end (a body stream failed, `res.destroy()`): no
   * `end()` will come, so the claim is released now rather than left to lapse.
   */
  tornDown(): void
}

// Node's table of the headers set so far ({ name: [name as set, value] }), read directly for the
// few names a claim keeps: getHeaders() copies every header into a new dictionary object first.
const kOutHeaders = Object.getOwnPropertySymbols(new OutgoingMessage()).find(
  (symbol) => symbol.description === 'kOutHeaders',
)
type HeaderTable = Record<string, [string, number | string | string[]] | undefined> | null

/**
 * The response headers (`names` of them, when given): from Node's header table, or, once they
 * went out (a stream, or `writeHead()` with a headers object, which that table never sees),
 * parsed from what was sent.
 */
function sentHeaders(
  res: CapturableResponse,
  names: readonly string[] | undefined,
): Record<string, number | string | string[] | undefined> {
  const block = res._header
  if (typeof block !== 'string') {
    if (names === undefined || kOutHeaders === undefined) return getHeaders.call(res)
    const table = (res as unknown as Record<symbol, HeaderTable | undefined>)[kOutHeaders]
    if (table === undefined) return getHeaders.call(res)
    const headers: Record<string, number | string | string[]> = {}
    if (table === null) return headers
    for (const name of names) {
      const entry = table[name]
      if (entry !== undefined) headers[name] = entry[1]
    }
    return headers
  }
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
 * The body length the response declares with Content-Length (Infinity without one): once that
 * many bytes are written, the client has the whole response even before `end()`.
 */
function declaredLength(res: CapturableResponse): number {
  if (typeof res._header === 'string') {
    const length = res._contentLength
    return res.chunkedEncoding !== true && typeof length === 'number' ? length : Infinity
  }
  const value = getHeader.call(res, 'content-length')
  const length = typeof value === 'number' || typeof value === 'string' ? Number(value) : NaN
  return Number.isFinite(length) ? length : Infinity
}

/**
 * True when the body does not match the Content-Length the response declared (an app bug: the
 * client gets a truncated or unparsable response), so it must not be stored as the answer.
 * HEAD and bodiless statuses declare a length they never send.
 */
function misframed(res: CapturableResponse, size: number): boolean {
  const status = res.statusCode
  if (status === 204 || status === 304 || status < 200) return false
  const declared = declaredLength(res)
  if (declared === Infinity || declared === size) return false
  return (res as { req?: { method?: string } }).req?.method !== 'HEAD'
}

/** The Content-Length a HEAD response declared (it sends no body), for its replays. */
function headLengthOf(res: CapturableResponse): number | undefined {
  if ((res as { req?: { method?: string } }).req?.method !== 'HEAD') return undefined
  const declared = declaredLength(res)
  return declared === Infinity ? undefined : declared
}

/** Express's own 404: no route matched the request (Express sets `req.route` when one does). */
function unrouted(res: CapturableResponse): boolean {
  return res.statusCode === 404 && (res as { req?: { route?: unknown } }).req?.route === undefined
}

/**
 * One response being recorded: its bytes so far, and the claim to finish when it ends. The
 * write that carries the last byte is held back until the record is stored: the final `end()`,
 * or the `write()` that completes a declared Content-Length (`res.sendFile`, a stream piped
 * with its length). A client that saw the whole response always gets the replay.
 */
class Recording extends BodyCapture implements CaptureControl {
  readonly #res: CapturableResponse
  readonly #sink: ResponseSink
  /** True when nothing sits between this recording and the socket: it sees the bytes as sent. */
  readonly #onTheWire: boolean
  /**
   * True when a wrapper put on after ours (compression() mounted after the guard) had already
   * set a content-encoding when it handed us the first bytes: what we record is encoded.
   */
  encodedAbove = false
  /** Set when the handler threw or passed an error on: the claim is then released. */
  threw = false
  /** Set when no handler answered (Koa's own 404): the claim is then released. */
  #unanswered = false
  /** On Express: a 404 sent when no route matched (Express's own) is released too. */
  expressRoutes = false
  /** True once the claim was finished or released. */
  #settled = false
  /**
   * The write held back for the store and the calls made after it, in order; undefined when
   * nothing is held (before the last byte, and again once the store answered).
   */
  #held: [AnyFn, unknown[]][] | undefined

  constructor(res: CapturableResponse, sink: ResponseSink, limit: number, onTheWire: boolean) {
    super(limit)
    this.#res = res
    this.#sink = sink
    this.#onTheWire = onTheWire
    sink.response = this
  }

  /**
   * True once the client left before the end. The lease is then left to lapse rather than
   * released: the handler may still run, and a retry must not run alongside it.
   */
  abandoned(): boolean {
    return !this.#settled && this.#res.destroyed
  }

  /** The response's `write(...args)`; `write` is the one it wrapped. */
  write(write: AnyFn, args: unknown[]): unknown {
    const res = this.#res
    if (this.#held !== undefined) {
      this.#held.push([write, args])
      return true
    }
    if (this.#settled) return write.apply(res, args)
    this.add(args[0], args[1])
    if (this.size < declaredLength(res)) return write.apply(res, args)
    // The client will have the whole response once this write goes out: store first.
    const stored = this.#settle()
    if (stored === undefined) return write.apply(res, args)
    this.#hold(stored, write, args, false)
    return true
  }

  /**
   * The response's final `end(...args)`; `end`, the one it wrapped, runs once the record is
   * stored. True while it is held back (later calls must keep coming here to queue behind it).
   */
  end(end: AnyFn, args: unknown[]): boolean {
    const res = this.#res
    if (this.#held !== undefined) {
      this.#held.push([end, args])
      return true
    }
    if (!this.#settled) {
      if (typeof args[0] !== 'function') this.add(args[0], args[1])
      const stored = this.#settle()
      if (stored !== undefined) {
        this.#hold(stored, end, args, true)
        return true
      }
    }
    end.apply(res, args)
    return false
  }

  /** The handler passed an error on (Express), after answering or while answering. */
  errorPassed(): void {
    this.threw = true
    // Complete and held for the store: an error handler can no longer change it, and Express's
    // own tears the socket down when the headers are out. Send it now, as it would have gone
    // without the guard; the record is already on its way to the store.
    if (this.#held !== undefined) this.#release()
    // Part of the body went out: no error handler can answer, and no end() may come.
    else if (!this.#settled && typeof this.#res._header === 'string') this.tornDown()
  }

  tornDown(): void {
    if (this.#settled) return
    this.#settled = true
    void this.#sink.release()
  }

  /** Finishes the claim with the response so far, or releases it if the client left. */
  #settle(): Promise<void> | undefined {
    const res = this.#res
    this.#settled = true
    // The client left before the handler finished, the handler failed, or no handler ran (the
    // route may exist after the next deploy): run it again.
    if (
      res.destroyed ||
      this.threw ||
      this.#unanswered ||
      (this.expressRoutes && unrouted(res)) ||
      misframed(res, this.size)
    ) {
      return this.#sink.release()
    }
    return this.#sink.finish(
      res.statusCode,
      sentHeaders(res, this.#sink.readHeaders),
      this.bytes(),
      this.omitted,
      this.#onTheWire || this.encodedAbove,
      headLengthOf(res),
    )
  }

  /**
   * Holds `call(...args)`, the write with the last byte, until `stored` settles. The header
   * block is rendered now, as Node would when that call went out: meanwhile the response reads
   * as answered (`headersSent`), so an error handler leaves it alone and a late status or
   * header change fails as it would without the guard. Not when a write/end wrapper sits
   * between us and Node (compression mounted first): it renders the headers itself.
   */
  #hold(stored: Promise<void>, call: AnyFn, args: unknown[], ending: boolean): void {
    this.#held = [[call, args]]
    const res = this.#res
    if (this.#onTheWire && typeof res._header !== 'string') {
      if (ending) {
        const chunk = args[0]
        const encoding = typeof args[1] === 'string' ? (args[1] as BufferEncoding) : 'utf8'
        res._contentLength =
          typeof chunk === 'string'
            ? Buffer.byteLength(chunk, encoding)
            : chunk instanceof Uint8Array
              ? chunk.byteLength
              : 0
      }
      res._implicitHeader()
    }
    void stored.then(
      () => this.#release(),
      () => this.#release(),
    )
  }

  /**
   * Runs the held calls in order. Their callers returned long ago (as if the bytes were
   * buffered), so a late failure can only tear the response down.
   */
  #release(): void {
    const held = this.#held
    if (held === undefined) return
    // Calls made from inside these (a wrapper's end() writing) go straight through.
    this.#held = undefined
    const res = this.#res
    try {
      for (const [call, args] of held) call.apply(res, args)
    } catch (error) {
      res.destroy(error as Error)
    }
  }

  handlerFinished(answered: boolean): void {
    if (!answered) this.#unanswered = true
    // Koa skips responding to a client that left, so no end() will come to release the key.
    if (!this.#settled && this.#res.destroyed) void this.#sink.release()
  }
}

/**
 * Records a response by wrapping `res.write` and `res.end` on the response itself, so that every
 * way of answering (Koa bodies of any type, streams, `writeHead()`) is captured.
 */
export function captureResponse(
  res: CapturableResponse,
  sink: ResponseSink,
  limit: number,
): Recording {
  // Wrappers put on the response before this one sit between it and the socket (they may
  // compress what it records); wrappers put on later sit outside it.
  const onTheWire = !Object.hasOwn(res, 'write') && !Object.hasOwn(res, 'end')
  const recording = new Recording(res, sink, limit, onTheWire)
  const { write, end } = res
  // With wrappers both below ours (express-session) and above it (compression), the bytes we
  // see are the encoded ones when the wrapper above set content-encoding before handing them on;
  // a compression below ours sets it only later, as our bytes pass down to it. With nothing
  // below, what we see is what is sent, and there is nothing to look at.
  let first = !onTheWire
  const look = () => {
    first = false
    recording.encodedAbove =
      (res.write !== ownWrite || res.end !== ownEnd) &&
      getHeader.call(res, 'content-encoding') !== undefined
  }
  const ownWrite = (...args: unknown[]) => {
    if (first) look()
    return recording.write(write, args)
  }
  const ownEnd = (...args: unknown[]) => {
    if (first) look()
    if (!recording.end(end, args)) {
      res.write = write
      res.end = end
    }
    return res
  }
  const { destroy } = res
  res.write = ownWrite
  res.end = ownEnd
  res.destroy = (...args: unknown[]) => {
    recording.tornDown()
    return destroy.apply(res, args as [Error?])
  }
  return recording
}

// Express re-prototypes every response (Object.setPrototypeOf), which leaves each one with a map
// of its own: V8 then misses its inline caches on every new property, and two own wrappers cost
// several µs per request (bench/). So on Express, write/end are wrapped once, on the prototype
// that Express's response methods sit on, and find their recording in a WeakMap.
const recordings = new WeakMap<object, Recording>()
/** Express responses recorded through their own wrappers (see captureExpressResponse). */
const ownRecordings = new WeakMap<object, Recording>()
/** Prototypes whose write/end are our wrappers. */
const wrapped = new WeakSet<object>()
/** Per direct prototype of a response: do write/end reach our prototype wrappers? */
const routed = new WeakMap<object, boolean>()

/** Wraps write/end on `target` (once): responses with a recording are captured, others pass. */
function wrapPrototype(target: WrappedMethods): void {
  // A wrapper someone already put on `target` is kept as it is; otherwise Node's write/end are
  // looked up at each call, so instrumentation that patches http.ServerResponse later (an APM
  // agent loaded lazily) still sees every response of this app.
  const parent = Object.getPrototypeOf(target) as WrappedMethods
  const ownWrite = Object.hasOwn(target, 'write') ? target.write : undefined
  const ownEnd = Object.hasOwn(target, 'end') ? target.end : undefined
  const ownDestroy = Object.hasOwn(target, 'destroy') ? target.destroy : undefined
  target.write = function recordedWrite(this: CapturableResponse, ...args: unknown[]) {
    const write = ownWrite ?? parent.write
    const recording = recordings.get(this)
    if (recording === undefined) return write.apply(this, args)
    return recording.write(write, args)
  }
  target.end = function recordedEnd(this: CapturableResponse, ...args: unknown[]) {
    const end = ownEnd ?? parent.end
    const recording = recordings.get(this)
    if (recording === undefined) return end.apply(this, args)
    // Held back for the store: the calls that follow must queue behind it.
    if (!recording.end(end, args)) recordings.delete(this)
    return this
  }
  target.destroy = function recordedDestroy(this: CapturableResponse, ...args: unknown[]) {
    recordings.get(this)?.tornDown()
    return (ownDestroy ?? parent.destroy).apply(this, args)
  }
  wrapped.add(target)
}

/**
 * Whether responses with prototype `proto` can be recorded on the prototype: true for an Express
 * response (its chain reaches `http.ServerResponse.prototype` through Express's response object,
 * which gets the wrappers) unless something in between overrides write or end.
 */
function routesThroughPrototype(proto: object | null): boolean {
  if (proto === null) return false
  let known = routed.get(proto)
  if (known !== undefined) return known
  let target: object | null = proto
  while (target !== null && Object.getPrototypeOf(target) !== ServerResponse.prototype) {
    target = Object.getPrototypeOf(target)
  }
  known = false
  if (target !== null && target !== proto && !wrapped.has(target)) {
    wrapPrototype(target as WrappedMethods)
  }
  if (target !== null && wrapped.has(target)) {
    const via = proto as { write: AnyFn; end: AnyFn }
    const on = target as { write: AnyFn; end: AnyFn }
    known = via.write === on.write && via.end === on.end
  }
  routed.set(proto, known)
  return known
}

/**
 * {@link captureResponse} for Express responses: recorded through the prototype wrappers when
 * possible; on the response itself when something before us already wrapped write or end (e.g.
 * compression or express-session), so we keep seeing what the handler wrote.
 */
export function captureExpressResponse(
  res: CapturableResponse,
  sink: ResponseSink,
  limit: number,
): void {
  if (
    routesThroughPrototype(Object.getPrototypeOf(res)) &&
    !Object.hasOwn(res, 'write') &&
    !Object.hasOwn(res, 'end') &&
    // A second guard on the same response (two differently configured ones) wraps it itself.
    !recordings.has(res)
  ) {
    // Below every wrapper put on the response itself: what it records is what is sent.
    const recording = new Recording(res, sink, limit, true)
    recording.expressRoutes = true
    recordings.set(res, recording)
  } else {
    const recording = captureResponse(res, sink, limit)
    recording.expressRoutes = true
    ownRecordings.set(res, recording)
  }
}

/** True while an Express response is being recorded (see express-errors.ts). */
export function isRecording(res: object): boolean {
  return recordings.has(res) || ownRecordings.has(res)
}

/** Marks that the handler of an Express response passed on an error: its claims are released. */
export function markThrown(res: object): void {
  // Both, for two guards on one response (the second records through its own wrappers).
  recordings.get(res)?.errorPassed()
  ownRecordings.get(res)?.errorPassed()
}
