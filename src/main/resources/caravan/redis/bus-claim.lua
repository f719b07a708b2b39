-- Claims a bus message's slot for this gateway (ARGV[1], its instance id) unless it was answered or another live
-- gateway is answering it. KEYS[1] the slot; ARGV[2] the claim's time-to-live (ms); ARGV[3] the prefix of the
-- instances' liveness keys. Returns 'OWNED', 'BUSY' (another live gateway answers it), 'MINE' (this gateway claimed
-- it: answering it now, or a claim whose reply or release did not reach Redis), or the remembered reply ('D|' and
-- its JSON).
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'D|' then
  return v
end
if v then
  local owner = string.sub(v, 3)
  if owner == ARGV[1] then
    return 'MINE'
  end
  if redis.call('EXISTS', ARGV[3] .. owner) == 1 then
    return 'BUSY'
  end
end
-- free, or claimed by a gateway that is gone (killed mid-message): this one answers it
redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'PX', ARGV[2])
return 'OWNED'
