-- Shared by the bench scripts (loaded with dofile by each of them).
-- Numbers each wrk thread, counts non-2xx answers per thread and, in done(), prints one
-- machine-readable line that bench/api_bench.py parses:
--   BENCH requests=N duration_us=N p50_us=N ... non2xx=N errors_connect=N ...
-- Environment: BENCH_IDS (file of ids, one a line), BENCH_THREADS (wrk -t), BENCH_BODY,
-- BENCH_RESOURCE_PATH (the collection: /tmf-api/customerManagement/v4/customer).

local M = {}
local threads = {}

function M.setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function M.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  assert(#lines > 0, "no lines in " .. path)
  return lines
end

function M.read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

-- Runs in each thread: globals here are the thread's, read back by done() with thread:get.
function M.response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = (non2xx or 0) + 1
    if not first_bad then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

function M.done(summary, latency, requests)
  local non2xx_total, sample = 0, ""
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
    local bad = thread:get("first_bad")
    if bad and sample == "" then
      sample = bad
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d"
      .. " p999_us=%d max_us=%d non2xx=%d errors_connect=%d errors_read=%d errors_write=%d"
      .. " errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, non2xx_total,
    e.connect, e.read, e.write, e.status, e.timeout))
  if sample ~= "" then
    io.write("BENCH_SAMPLE " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end

return M
