-- Removes the entries named in both a namespace's index and a model's, one ZSCAN step of one of them at a time.
-- KEYS[1]: the index scanned (the smaller), KEYS[2]: the other, KEYS[3]: the all index.
-- ARGV[1]: the entries' key prefix, ARGV[2]: the ZSCAN cursor ('0' to start), ARGV[3]: its COUNT.
-- Returns {entries removed (those not yet expired), the next cursor ('0' when the scan is done)}.
local step = redis.call('ZSCAN', KEYS[1], ARGV[2], 'COUNT', ARGV[3])
local scanned = step[2]
local members, entries = {}, {}
for i = 1, #scanned, 2 do
  if redis.call('ZSCORE', KEYS[2], scanned[i]) then
    members[#members + 1] = scanned[i]
    entries[#entries + 1] = ARGV[1] .. scanned[i]
  end
end
local removed = 0
if #members > 0 then
  removed = redis.call('DEL', unpack(entries))
  for k = 1, 3 do
    redis.call('ZREM', KEYS[k], unpack(members))
  end
end
return {removed, step[1]}
