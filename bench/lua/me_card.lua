-- GET /api/v1/me/card with member access tokens, round robin.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local tokens, n

setup = common.setup
done = common.done

function init(args)
  tokens = common.lines(os.getenv("BENCH_DATA") .. "/member_tokens.txt")
  n = thread_index * 101
end

function request()
  n = n + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]}
  return wrk.format("GET", "/api/v1/me/card", headers)
end
