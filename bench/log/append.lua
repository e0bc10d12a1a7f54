-- wrk script: POST /v1/events, a new referral (referral.received) per
-- request, in area E08000002 with the partnership token "p-token" that
-- bench/log/witness_appends.sh writes into its tokens file.
-- Each referral id is unique: the run's tag (the first argument after `--`),
-- the wrk thread's number and a counter.
--   wrk -t2 -c64 -d10s --latency -s bench/log/append.lua URL -- TAG
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local prefix, counter
function init(args)
  prefix = "wb-" .. (args[1] or tostring(os.time())) .. "-" .. tostring(tid) .. "-"
  counter = 0
end

local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer p-token"}
function request()
  counter = counter + 1
  local body = '{"type":"referral.received","referral_id":"' .. prefix .. counter ..
    '","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002",' ..
    '"referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female",' ..
    '"ethnicity":"white","disability":"no"}}'
  return wrk.format("POST", "/v1/events", headers, body)
end
