-- POST /api/v1/till/coupons/redeem: each anonymous code once (codes split between threads).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local codes, token, n, step, run

setup = common.setup
done = common.done

function init(args)
  local data = os.getenv("BENCH_DATA")
  codes = common.lines(data .. "/coupon_codes.txt")
  token = common.lines(data .. "/till_token.txt")[1]
  step = tonumber(os.getenv("BENCH_THREADS") or "2")
  n = thread_index + 1 - step
  run = os.getenv("BENCH_RUN") or "r"
end

function request()
  n = n + step
  local code = codes[((n - 1) % #codes) + 1]
  local key = string.format("c-%s-%d", run, n)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key,
  }
  local body = '{"code": "' .. code .. '", "basket_cents": 2000, "receipt_id": "' .. key .. '"}'
  return wrk.format("POST", "/api/v1/till/coupons/redeem", headers, body)
end
