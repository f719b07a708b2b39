-- Stores one answer and names it in the indexes a clear drains; every key gets a TTL, in the server's clock.
-- KEYS[1]: the entry; KEYS[2..]: sorted sets (all, namespace, model) of member -> when its entry expires (ms).
-- ARGV[1]: the encoded answer, ARGV[2]: its TTL (ms), ARGV[3]: the member (the cache key the entry is under).
-- Returns 1.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[3])
  -- members whose entries Redis has expired: each is pruned once, so this is O(1) a put over time
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('PTTL', KEYS[i]) < ttl then -- an index lives as long as its longest-lived entry
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
