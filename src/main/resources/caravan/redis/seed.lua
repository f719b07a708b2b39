-- Opens a budget window rebuilt from the ledger, only when the store holds none for the scope (shared state wins).
-- KEYS[1]: the budget hash; ARGV: start, end, spent, TTL (ms). Returns 1 when it seeded, 0 when a window was there.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'start', ARGV[1], 'end', ARGV[2], 'spent', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
