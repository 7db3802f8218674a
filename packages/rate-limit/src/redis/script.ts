/**
 * One decision, atomically, in Redis: every check of a request (KEYS[i], and four ARGV each:
 * algorithm, interval or window in ms, quota, cost), all or nothing, on Redis's own clock (`TIME`),
 * so gateway instances with skewed clocks agree. The arithmetic is src/internal/algorithms.ts line
 * for line; keep the two in step. State is one string per key (`tat`, `window:count`,
 * `window:current:previous`), written with PX so that every key expires once it no longer matters.
 * Returns four integers per check: allowed (1/0), remaining, reset ms, retry-after ms.
 */
export const decideScript = `
local eps = 1e-9
local function ms(v) local r = math.ceil(v - eps) if r < 0 then return 0 end return r end
local function units(v) local r = math.floor(v + eps) if r < 0 then return 0 end return r end
local function num(v) return string.format('%.17g', v) end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local outcomes, held, states, ttls = {}, {}, {}, {}
local all = true

for i = 1, #KEYS do
  local kind = ARGV[i * 4 - 3]
  local p = tonumber(ARGV[i * 4 - 2])
  local quota = tonumber(ARGV[i * 4 - 1])
  local cost = tonumber(ARGV[i * 4])
  local s = {}
  local raw = redis.call('GET', KEYS[i])
  if raw then for part in string.gmatch(raw, '[^:]+') do s[#s + 1] = tonumber(part) end end
  local o, h
  if kind == 'tb' then
    local capacity = quota * p
    local tat = now
    if s[1] and s[1] > now then tat = s[1] end
    local nxt = tat + cost * p
    local left = units((capacity - (tat - now)) / p)
    if nxt - now <= capacity + eps then
      o = { 1, units((capacity - (nxt - now)) / p), ms(nxt - now), 0 }
      h = { 1, left, ms(tat - now), 0 }
      states[i] = num(nxt)
      ttls[i] = ms(nxt - now)
    else
      local retry = nxt - capacity - now
      if cost > quota then retry = tat - now + capacity end
      o = { 0, left, ms(tat - now), math.max(1, ms(retry)) }
      h = o
    end
  elseif kind == 'fw' then
    local window = math.floor(now / p)
    local count = 0
    if s[1] == window then count = s[2] end
    local e = ms((window + 1) * p - now)
    if count + cost <= quota then
      local reset = 0
      if count > 0 then reset = e end
      o = { 1, quota - count - cost, e, 0 }
      h = { 1, quota - count, reset, 0 }
      states[i] = num(window) .. ':' .. num(count + cost)
      ttls[i] = e
    else
      o = { 0, quota - count, e, math.max(1, e) }
      h = o
    end
  else
    local window = math.floor(now / p)
    local current, previous = 0, 0
    if s[1] == window then current, previous = s[2], s[3]
    elseif s[1] == window - 1 then previous = s[2] end
    local start = window * p
    local estimate = (previous * (p - (now - start))) / p + current
    local ttl = ms(start + 2 * p - now)
    local reset = 0
    if current > 0 then reset = ttl elseif previous > 0 then reset = ms(start + p - now) end
    if estimate + cost <= quota + eps then
      o = { 1, units(quota - estimate - cost), ttl, 0 }
      h = { 1, units(quota - estimate), reset, 0 }
      states[i] = num(window) .. ':' .. num(current + cost) .. ':' .. num(previous)
      ttls[i] = ttl
    else
      local at
      if cost > quota then at = start + 2 * p
      elseif current + cost <= quota then at = start + p - (p * (quota - current - cost)) / previous
      else at = start + p + math.max(0, p - (p * (quota - cost)) / current) end
      o = { 0, units(quota - estimate), reset, math.max(1, ms(at - now)) }
      h = o
    end
  end
  outcomes[i], held[i] = o, h
  if o[1] == 0 then all = false end
end

local result = {}
for i = 1, #KEYS do
  local o = held[i]
  if all then
    o = outcomes[i]
    redis.call('SET', KEYS[i], states[i], 'PX', math.max(1, ttls[i]))
  end
  for j = 1, 4 do result[#result + 1] = o[j] end
end
return result
`;

/**
 * Takes a place of a concurrency limit (KEYS[1], a sorted set of leases scored by their expiry on
 * Redis's clock): expired leases are dropped first, so an instance that crashed holding places
 * frees them once their lease runs out. ARGV: max, lease ms, lease id. Returns allowed (1/0) and
 * the places held. The set expires with its last lease.
 */
export const acquireScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then return { 0, held } end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return { 1, held + 1 }
`;

/** Extends leases still held (KEYS[1]; ARGV: lease ms, then lease ids) that have not expired. */
export const renewScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i]) end
end
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`;
