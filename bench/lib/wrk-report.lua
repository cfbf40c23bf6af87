-- wrk script of bench/lb-vs-peers: prints "RESULT name value unit" lines (rate, p50_ms, p99_ms,
-- errors, requests) for bench/lib/results.py. Closed loop by default (peak). With DELAY_MS set
-- (whole milliseconds), a fixed rate: each connection waits DELAY_MS before each request, so
-- -c C connections send about C * 1000 / DELAY_MS requests per second while responses stay
-- well below DELAY_MS. Not a true open loop: a slow response delays its connection's next
-- request and latency is measured from the actual send (coordinated omission); the achieved
-- rate is reported, so a missed target shows.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")

if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rate %.0f req/s\n", summary.requests / secs))
  io.write(string.format("RESULT p50_ms %.3f ms\n", latency:percentile(50) / 1000))
  io.write(string.format("RESULT p99_ms %.3f ms\n", latency:percentile(99) / 1000))
  io.write(string.format("RESULT errors %d count\n",
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
  io.write(string.format("RESULT requests %d count\n", summary.requests))
end
