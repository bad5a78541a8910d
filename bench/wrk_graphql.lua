-- wrk script: POST GraphQL requests read from a file given after `--`, one per line:
--   <Authorization header value, or - for none> TAB <JSON body>
-- Each connection's thread walks the list round robin from its own offset, so the variables (lot ids,
-- cursors) change on every request. A response that is not 200 or whose body names "errors" counts as an
-- error. The summary is printed as one line starting with WRK_JSON for the Python harness to read.

local requests = {}
local counter = 0
errors = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  if path == nil then
    error("give the request file after --")
  end
  for line in io.lines(path) do
    local auth, body = line:match("^([^\t]*)\t(.*)$")
    if body ~= nil then
      local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
      if auth ~= "-" then
        headers["Authorization"] = auth
      end
      table.insert(requests, wrk.format("POST", wrk.path, headers, body))
    end
  end
  if #requests == 0 then
    error("no requests in " .. path)
  end
  counter = offset
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local graphql_errors = 0
  for _, thread in ipairs(threads) do
    graphql_errors = graphql_errors + thread:get("errors")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"mean_us": %.1f, "max_us": %d, "errors": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "non2xx": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, graphql_errors, e.connect, e.read, e.write, e.status,
    e.timeout
  ))
end
