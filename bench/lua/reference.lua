-- POST /use of the reference app (bench/reference.py): one use of a counter, round robin.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local counters, n

setup = common.setup
done = common.done

function init(args)
  counters = tonumber(os.getenv("BENCH_MEMBERS") or "2000")
  n = thread_index * 7919
end

function request()
  n = n + 1
  local body = '{"counter": ' .. ((n % counters) + 1) .. '}'
  return wrk.format("POST", "/use", {["Content-Type"] = "application/json"}, body)
end
