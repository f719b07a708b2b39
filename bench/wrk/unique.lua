-- wrk script for the cache-miss rows: every request is the request in $BENCH_BODY with a number no other request of the
-- run carries appended to its prompt ($BENCH_PROMPT, which must occur in the body): "... Ticket 3000017.". The exact
-- key differs, and the semantic cache finds near neighbours (the same words) but must reject them, because their
-- numbers differ, so every request is a miss that goes upstream. $BENCH_SEQ (a count bench/run raises for every wrk
-- run) keeps the numbers of one wrk run apart from those of the runs before it on the same gateway: number =
-- BENCH_SEQ * 10^7 + n. Headers come from wrk -H.
local body = os.getenv("BENCH_BODY")
local prompt = os.getenv("BENCH_PROMPT")
local seq = tonumber(os.getenv("BENCH_SEQ") or "0")
local at = body:find(prompt, 1, true)
if not at then error("bench/wrk/unique.lua: BENCH_PROMPT does not occur in BENCH_BODY") end
local head, tail = body:sub(1, at - 1), body:sub(at + #prompt)
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format("%s%s Ticket %d.%s", head, prompt, seq * 10000000 + n, tail))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
