-- What reserve.lua and settle.lua share (prepended to each at load). A scope's reservations are a hash (sum, and
-- r:<id> -> amount) and a sorted set (id -> when it lapses, ms); amounts travel as the integer strings Java wrote.

-- Subtracts an amount held as a canonical integer string ('-0' and '--5' are not integers to HINCRBY).
local function subtract(key, field, amount)
  if amount == '0' then
    return
  end
  local negated = (amount:sub(1, 1) == '-') and amount:sub(2) or ('-' .. amount)
  if redis.call('HINCRBY', key, field, negated) < 0 then
    redis.call('HSET', key, field, 0)
  end
end

-- Ends one reservation in a scope: its amount stops counting. Unknown (settled, lapsed) is left alone.
local function release(held, lapse, id)
  local amount = redis.call('HGET', held, 'r:' .. id)
  if not amount then
    return
  end
  redis.call('HDEL', held, 'r:' .. id)
  redis.call('ZREM', lapse, id)
  subtract(held, 'sum', amount)
end

-- Releases the reservations whose lapse time has come (a replica died before settling). At most 100 per call keeps
-- a script short; the rest go at the next call, and lapses are rare.
local function prune(held, lapse, now)
  local lapsed = redis.call('ZRANGEBYSCORE', lapse, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(lapsed) do
    release(held, lapse, id)
  end
end

-- Opens a new window in a budget hash (any old one is gone); returns it as {start, end, spent}.
local function open(budget, start, finish, ttl)
  redis.call('DEL', budget)
  redis.call('HSET', budget, 'start', start, 'end', finish, 'spent', 0)
  redis.call('PEXPIRE', budget, ttl)
  return {start, finish, '0'}
end
