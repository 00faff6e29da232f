declare module 'autocannon' {
  interface Histogram {
    average: number
    p50: number
    p99: number
    total: number
  }
  interface Result {
    requests: Histogram
    latency: Histogram
    non2xx: number
    errors: number
    timeouts: number
    duration: number
  }
  interface RawRequest {
    headers: Record<string, string>
    [key: string]: unknown
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    requests?: { setupRequest?: (request: RawRequest) => RawRequest }[]
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
