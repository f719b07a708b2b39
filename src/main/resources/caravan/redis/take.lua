-- Takes each charge's amount from its rate window, or from none: refused at the first window already at its limit.
-- KEYS[i]: charge i's window (scope and minute); ARGV[1]: a new window's TTL (ms), ARGV[2i], ARGV[2i+1]: limit, amount.
-- Returns {refused (1-based, 0 when granted), then per charge its window's count after (granted) or as found}.
local out = {0}
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = redis.call('GET', key)
  local used = tonumber(found[i] or '0')
  out[i + 1] = used
  if out[1] == 0 and used >= tonumber(ARGV[2 * i]) then
    out[1] = i
  end
end
if out[1] ~= 0 then
  return out
end
for i, key in ipairs(KEYS) do
  out[i + 1] = redis.call('INCRBY', key, ARGV[2 * i + 1])
  if not found[i] then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return out
