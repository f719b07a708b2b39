-- wrk script for the semantic-cache hit row: every request asks the question in $BENCH_PROMPT (which must occur in
-- $BENCH_BODY, the request the run stored first) with other spacing between its words, so the exact key (a hash of the
-- whole request) differs from the stored request's, while the words, the numbers and the names do not: an exact miss
-- that the semantic cache answers. Each of the prompt's gaps between words gets 1 to 6 spaces: a five-word prompt
-- has 6^4 - 1 = 1,295 variants besides the stored one, taken in turn. A semantic hit is not stored under its own
-- exact key, so a variant stays an exact miss however often it comes round. Headers come from wrk -H.
local body = os.getenv("BENCH_BODY")
local prompt = os.getenv("BENCH_PROMPT")
local at = body:find(prompt, 1, true)
if not at then error("bench/wrk/variants.lua: BENCH_PROMPT does not occur in BENCH_BODY") end
local head, tail = body:sub(1, at - 1), body:sub(at + #prompt)
local words = {}
for w in prompt:gmatch("%S+") do words[#words + 1] = w end
local SPACES = 6
local count = SPACES ^ (#words - 1)   -- variants, the stored prompt (one space everywhere) included
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- variant v (1 .. count - 1): gap j gets 1 + the j-th base-6 digit of v spaces
local function variant(v)
  local parts = { words[1] }
  for j = 2, #words do
    parts[#parts + 1] = string.rep(" ", 1 + v % SPACES)
    parts[#parts + 1] = words[j]
    v = math.floor(v / SPACES)
  end
  return table.concat(parts)
end

function request()
  n = n % (count - 1) + 1   -- 1, 2, ..., count - 1, 1, ...: never 0, the stored prompt itself
  return wrk.format(nil, nil, nil, head .. variant(n) .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
