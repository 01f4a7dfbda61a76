-- PATCH <BENCH_RESOURCE_PATH>/{id} with a JSON Merge Patch changing name or statusReason.
-- Each wrk thread walks its own share of the ids (file BENCH_IDS, already shuffled), so two
-- requests in flight never touch the same resource (that would be a legitimate 409); each
-- run starts BENCH_START positions further, past the ids of the runs before it.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
setup, response, done = common.setup, common.response, common.done

local path = os.getenv("BENCH_RESOURCE_PATH")
local headers = { ["Content-Type"] = "application/merge-patch+json" }
local mine = {}
local n = 0

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  for index, id in ipairs(common.read_lines(os.getenv("BENCH_IDS"))) do
    if index % threads == tid then
      mine[#mine + 1] = id
    end
  end
  assert(#mine > 0, "thread " .. tid .. " has no ids")
  n = tonumber(os.getenv("BENCH_START") or "0")
end

function request()
  n = n + 1
  local id = mine[(n - 1) % #mine + 1]
  local body
  if n % 2 == 0 then
    body = string.format('{"name": "Bench Renamed %d-%d"}', tid, n)
  else
    body = string.format('{"statusReason": "bench review %d-%d"}', tid, n)
  end
  return wrk.format("PATCH", path .. "/" .. id, headers, body)
end
