counter = 0
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local prefix = "load-" .. math.random(1, 1000000000) .. "-"
request = function()
  counter = counter + 1
  local body = '{"type":"referral.received","referral_id":"' .. prefix .. counter ..
    '","occurred_at":"2025-06-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000034","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}}'
  return wrk.format("POST", "/v1/events", {["Content-Type"]="application/json", ["Authorization"]="Bearer p-token"}, body)
end
