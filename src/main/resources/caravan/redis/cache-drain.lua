-- Removes up to ARGV[2] entries named in one index, popping them from it (soonest to expire first).
-- KEYS[1]: the index drained; KEYS[2..]: indexes the members also leave (the all index).
-- ARGV[1]: the entries' key prefix; ARGV[2]: how many members at most.
-- Returns {entries removed (those not yet expired), members left in KEYS[1]}.
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
local members, entries = {}, {}
for i = 1, #popped, 2 do
  members[#members + 1] = popped[i]
  entries[#entries + 1] = ARGV[1] .. popped[i]
end
local removed = 0
if #members > 0 then
  removed = redis.call('DEL', unpack(entries))
  for k = 2, #KEYS do
    redis.call('ZREM', KEYS[k], unpack(members))
  end
end
return {removed, redis.call('ZCARD', KEYS[1])}
