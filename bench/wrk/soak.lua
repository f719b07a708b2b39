-- wrk script for the soak: every request carries a distinct prompt (a counter, cycling through one million), so a
-- cache or any per-prompt state is exercised rather than hit. Headers come from wrk -H; $BENCH_MODEL names the model.
local model = os.getenv("BENCH_MODEL") or "bench-json"
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  local body = string.format(
    '{"model":"%s","messages":[{"role":"user","content":"Soak prompt number %d: say hello."}]}', model, n % 1000000)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
