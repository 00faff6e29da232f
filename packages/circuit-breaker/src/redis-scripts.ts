// Lua scripts of the Redis adapter. Each runs atomically and reads Redis' own clock (TIME), so
// instances with skewed clocks still agree on trip windows and lease expiry.

const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`

/**
 * Records a trip. KEYS: open, trips. ARGV: instance, openMs, quorum, force ('1' skips the quorum:
 * a failed fleet probe), channel, name. Opens the fleet (PX key + publish) once `quorum` distinct
 * instances tripped within openMs. Returns 1 when it opened the fleet, 2 when it was already open
 * for at least openMs, 0 when the quorum is not reached.
 */
export const TRIP = `${NOW}
local openMs = tonumber(ARGV[2])
if ARGV[4] ~= '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - openMs - 1)
  redis.call('PEXPIRE', KEYS[2], openMs)
  if redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[3]) then return 0 end
end
if redis.call('PTTL', KEYS[1]) >= openMs then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', openMs)
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[5], cjson.encode({ t = 'open', n = ARGV[6], ms = openMs, o = ARGV[1] }))
return 1`

/** Closes the fleet after successful probes. KEYS: open, trips, probes. ARGV: channel, name, instance. */
export const CLOSE = `redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], cjson.encode({ t = 'close', n = ARGV[2], o = ARGV[3] }))
return 1`

/**
 * Takes or renews half-open probe leases. KEYS: probes (a sorted set of slot -> expiry).
 * ARGV: instance, max slots fleet-wide, leaseMs. Renews this instance's slots, takes free ones,
 * and returns how many slots this instance now holds.
 */
export const LEASE = `${NOW}
local max = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = 0
for i = 1, max do
  local slot = ARGV[1] .. '#' .. i
  if redis.call('ZSCORE', KEYS[1], slot) then
    redis.call('ZADD', KEYS[1], now + leaseMs, slot)
    held = held + 1
  end
end
local free = max - redis.call('ZCARD', KEYS[1])
for i = 1, max do
  if free <= 0 then break end
  local slot = ARGV[1] .. '#' .. i
  if not redis.call('ZSCORE', KEYS[1], slot) then
    redis.call('ZADD', KEYS[1], now + leaseMs, slot)
    held = held + 1
    free = free - 1
  end
end
redis.call('PEXPIRE', KEYS[1], leaseMs)
return held`

/** Slot members of `instance` in the probes set, as LEASE names them. */
export function leaseSlots(instance: string, max: number): string[] {
  return Array.from({ length: max }, (_, i) => `${instance}#${i + 1}`)
}
