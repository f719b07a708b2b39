-- Reserves each charge's amount in its budget's current window, or in none: refused at the first budget whose spent
-- plus reserved reached its limit. A window whose period is over closes and a new one opens (on a refusal too).
-- KEYS per charge i: 3i-2 budget hash, 3i-1 held hash, 3i lapse set. ARGV: now, reservation, lapseAt, hold TTL (ms),
-- then per charge i from 4+5(i-1): limit, amount, openStart, openEnd, window TTL (ms) for a window opened now.
-- Returns {refused (1-based, 0 when granted), then per charge: spent, start, end, opened (1 or 0)}.
local now, id, lapseAt, holdTtl = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local n = #KEYS / 3
local out = {0}
for i = 1, n do
  local budget, held, lapse = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local a = 4 + 5 * (i - 1)
  prune(held, lapse, ARGV[1])
  local w = redis.call('HMGET', budget, 'start', 'end', 'spent')
  local opened = 0
  if not w[1] or now >= tonumber(w[2]) then
    w = open(budget, ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
    opened = 1
  end
  local reserved = tonumber(redis.call('HGET', held, 'sum') or '0')
  if out[1] == 0 and tonumber(w[3]) + reserved >= tonumber(ARGV[a + 1]) then
    out[1] = i
  end
  table.insert(out, w[3])
  table.insert(out, w[1])
  table.insert(out, w[2])
  table.insert(out, opened)
end
if out[1] ~= 0 then
  return out
end
for i = 1, n do
  local held, lapse = KEYS[3 * i - 1], KEYS[3 * i]
  local amount = ARGV[4 + 5 * (i - 1) + 2]
  release(held, lapse, id) -- the same reservation taken again replaces its amount
  redis.call('HSET', held, 'r:' .. id, amount)
  redis.call('HINCRBY', held, 'sum', amount)
  redis.call('ZADD', lapse, lapseAt, id)
  redis.call('PEXPIRE', held, holdTtl)
  redis.call('PEXPIRE', lapse, holdTtl)
end
return out
