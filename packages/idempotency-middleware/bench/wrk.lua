-- wrk script for bench/load.ts: POST one JSON body with a fixed Idempotency-Key or a fresh one
-- per request, and print the result as one JSON line. Args: fixed|unique, key or prefix, body.
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  mode, key, body = args[1], args[2], args[3]
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Idempotency-Key"] = key
  fixed = wrk.format()
  counter = 0
end

function request()
  if mode == "fixed" then
    return fixed
  end
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = key .. "-" .. tid .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"errors":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests,
    summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50),
    latency:percentile(99)
  ))
end
