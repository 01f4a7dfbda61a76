-- GET of the URL given to wrk, unchanged: the list pages (?limit=20, ?limit=20&status=...,
-- ?limit=20&lifecycleStatus=...).
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
setup, response, done = common.setup, common.response, common.done
