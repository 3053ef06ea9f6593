-- POST /api/v1/till/scan with the members' LW1 codes, round robin.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local codes, headers, n

setup = common.setup
done = common.done

function init(args)
  local data = os.getenv("BENCH_DATA")
  codes = common.lines(data .. "/static_codes.txt")
  local token = common.lines(data .. "/till_token.txt")[1]
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  n = thread_index * 7919
end

function request()
  n = n + 1
  local code = codes[(n % #codes) + 1]
  return wrk.format("POST", "/api/v1/till/scan", headers, '{"code": "' .. code .. '"}')
end
