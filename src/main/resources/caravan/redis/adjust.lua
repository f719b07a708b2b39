-- Adds a delta (negative to give back) to each rate window that still exists; a count never goes below zero.
-- KEYS: the windows (scope and minute); ARGV[1]: the delta. Returns how many windows it changed.
local changed = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    if redis.call('INCRBY', key, ARGV[1]) < 0 then
      redis.call('SET', key, 0, 'KEEPTTL')
    end
    changed = changed + 1
  end
end
return changed
