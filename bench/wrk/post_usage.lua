-- POST a valid data usage record to the URL given to wrk (the usage collection): a known
-- MSISDN drawn at random (file BENCH_IDS), usageDate BENCH_USAGE_DATE, and an externalId
-- unique to the run, the thread and the request (BENCH_RUN, thread id, counter), so that no
-- record is a duplicate (which would be a legitimate 409).
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
setup, response, done = common.setup, common.response, common.done

local headers = { ["Content-Type"] = "application/json" }
local run = os.getenv("BENCH_RUN")
local usage_date = os.getenv("BENCH_USAGE_DATE")
local msisdns
local n = 0

function init(args)
  msisdns = common.read_lines(os.getenv("BENCH_IDS"))
  math.randomseed(os.time() * 100 + tid)
end

function request()
  n = n + 1
  local body = string.format(
    '{"externalId": "wrk-%s-%d-%d", "usageType": "data", "usageDate": "%s",'
      .. ' "usageCharacteristic": [{"name": "msisdn", "value": "%s", "valueType": "string"},'
      .. ' {"name": "bytes", "value": %d, "valueType": "integer"},'
      .. ' {"name": "visitedCountry", "value": "IE", "valueType": "string"}]}',
    run, tid, n, usage_date, msisdns[math.random(#msisdns)], math.random(10000, 50000000))
  return wrk.format("POST", nil, headers, body)
end
