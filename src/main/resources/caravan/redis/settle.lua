-- Ends a reservation in each scope and adds the cost to each budget's current window (opening one if the last closed
-- meanwhile); reports, per charge, whether this took spent to or past its alert for the first time in the window.
-- KEYS per charge i: 3i-2 budget hash, 3i-1 held hash, 3i lapse set. ARGV: now, reservation, cost,
-- then per charge i from 3+4(i-1): alertAt (-1: none), openStart, openEnd, window TTL (ms). Returns {1 or 0 per charge}.
local now, id, cost = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local alerts = {}
for i = 1, #KEYS / 3 do
  local budget, held, lapse = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local a = 3 + 4 * (i - 1)
  prune(held, lapse, ARGV[1])
  release(held, lapse, id)
  alerts[i] = 0
  local w = redis.call('HMGET', budget, 'start', 'end', 'alerted')
  local isOpen = w[1] and now < tonumber(w[2])
  if isOpen or tonumber(cost) ~= 0 then -- nothing to charge opens no window
    if not isOpen then
      open(budget, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
      w[3] = false
    end
    local spent = redis.call('HINCRBY', budget, 'spent', cost)
    local alertAt = tonumber(ARGV[a + 1])
    if alertAt >= 0 and not w[3] and spent >= alertAt then
      redis.call('HSET', budget, 'alerted', 1)
      alerts[i] = 1
    end
  end
end
return alerts
