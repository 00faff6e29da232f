import { connect } from 'node:net'

/** A parsed HTTP/1.1 answer from {@link rawRequest}. */
export interface RawAnswer {
  status: number
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>
  body: Buffer
}

/** A request written byte for byte, so header values can hold what `http.request` refuses. */
export interface RawRequest {
  method?: string
  path: string
  headers?: [string, string | Buffer][]
  body?: Buffer | string
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/**
 * Sends one request over a fresh loopback socket with `Connection: close` and reads the answer
 * to the end of the stream.
 */
export function rawRequest(
  port: number,
  request: RawRequest,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const body =
    typeof request.body === 'string' ? Buffer.from(request.body) : (request.body ?? Buffer.alloc(0))
  const head: Buffer[] = [
    Buffer.from(`${request.method ?? 'POST'} ${request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`),
  ]
  for (const [name, value] of request.headers ?? []) {
    head.push(
      Buffer.from(`${name}: `),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    )
  }
  head.push(Buffer.from(`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`))
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => {
      socket.destroy()
      reject(new Error(`no complete answer within ${timeoutMs} ms`))
    })
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    // No half-close: Node's server drops a request whose client ended its side before the answer.
    socket.on('connect', () => socket.write(Buffer.concat([...head, body])))
    socket.on('close', () => {
      const data = Buffer.concat(chunks)
      const end = data.indexOf('\r\n\r\n')
      if (end < 0)
        return reject(new Error(`no HTTP answer: ${JSON.stringify(data.toString('latin1'))}`))
      const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(statusLine.split(' ')[1])
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        const name = line.slice(0, colon).trim().toLowerCase()
        const value = line.slice(colon + 1).trim()
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
      }
      const rest = data.subarray(end + 4)
      resolve({
        status,
        headers,
        body: headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest,
      })
    })
  })
}
