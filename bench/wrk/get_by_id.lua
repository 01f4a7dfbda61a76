-- GET <BENCH_RESOURCE_PATH>/{id} on random ids of the loaded resources (file BENCH_IDS).
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
setup, response, done = common.setup, common.response, common.done

local path = os.getenv("BENCH_RESOURCE_PATH")
local ids

function init(args)
  ids = common.read_lines(os.getenv("BENCH_IDS"))
  math.randomseed(os.time() * 100 + tid)
end

function request()
  return wrk.format("GET", path .. "/" .. ids[math.random(#ids)])
end
