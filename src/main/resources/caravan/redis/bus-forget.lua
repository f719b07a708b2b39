-- Gives up a bus message's slot if this gateway (ARGV[1]) still holds its claim. KEYS[1] the slot.
if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 'OK' -- a status, as the caller reads a value
