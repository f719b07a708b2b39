-- Appends one message (an addition to a semantic index, or a clear) to the capped stream of recent ones, and
-- publishes it with its stream id, so a listener that missed some can read on from the last id it saw.
-- KEYS[1]: the stream; ARGV[1]: the message, ARGV[2]: the stream's length (approximate, MAXLEN ~),
-- ARGV[3]: the channel, ARGV[4]: how long the message matters (ms): the stream lives at least that long.
-- Returns the message's stream id.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('PUBLISH', ARGV[3], id .. ' ' .. ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return id
