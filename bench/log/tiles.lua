-- wrk script: GET full level-0 hash tiles, cycling over the first COUNT of
-- them (/log/tile/0/000 .. /log/tile/0/<COUNT-1>), so that the server is not
-- answering one tile it may hold hot. Paths follow c2sp.org/tlog-tiles (and
-- docs/API.md, "Checkpoints (SPEC §9)"): the index in groups of three
-- digits, every group but the last prefixed with "x" (1234 -> x001/234).
-- The two wrk threads start half the list apart.
--   wrk -t2 -c64 -d10s --latency -s bench/log/tiles.lua URL -- COUNT
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local function tile_path(index)
  local groups = {}
  repeat
    table.insert(groups, 1, string.format("%03d", index % 1000))
    index = math.floor(index / 1000)
  until index == 0
  for k = 1, #groups - 1 do groups[k] = "x" .. groups[k] end
  return "/log/tile/0/" .. table.concat(groups, "/")
end

local requests, count, next_index
function init(args)
  count = tonumber(args[1] or "200")
  requests = {}
  for k = 0, count - 1 do requests[k + 1] = wrk.format("GET", tile_path(k)) end
  next_index = (((tid or 1) - 1) * math.floor(count / 2)) % count
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end
