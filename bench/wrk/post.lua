-- POST to the URL given to wrk (the collection) with a valid create body (file BENCH_BODY);
-- the server assigns the id.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
setup, response, done = common.setup, common.response, common.done

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = common.read_file(os.getenv("BENCH_BODY"))
