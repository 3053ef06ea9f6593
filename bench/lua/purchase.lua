-- POST /api/v1/till/purchases: LW1 codes round robin, a new receipt and Idempotency-Key each.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local codes, token, n, run

setup = common.setup
done = common.done

function init(args)
  local data = os.getenv("BENCH_DATA")
  codes = common.lines(data .. "/static_codes.txt")
  token = common.lines(data .. "/till_token.txt")[1]
  n = 0
  run = os.getenv("BENCH_RUN") or "r"
end

function request()
  n = n + 1
  local code = codes[((thread_index * 104729 + n) % #codes) + 1]
  local receipt = string.format("%s-%d-%d", run, thread_index, n)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "p-" .. receipt,
  }
  local body = '{"code": "' .. code .. '", "receipt_id": "' .. receipt
    .. '", "amount_cents": 2599, "currency": "EUR", "lines": [{"sku": "COFFEE", "amount_cents": 2599}]}'
  return wrk.format("POST", "/api/v1/till/purchases", headers, body)
end
