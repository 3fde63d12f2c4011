-- wrk script: each request is a random line of the file named by the REQUESTS environment
-- variable ("METHOD<TAB>PATH[<TAB>JSON BODY]"); "{uniq}" in a body becomes a value unique
-- per request across threads and runs. done() prints one JSON line with the figures.
-- THINK_MS (optional): each connection waits a random 0.5x to 1.5x that many milliseconds
-- before its next request, as a person reading the page would (wrk does not count the wait in
-- the latency); unset or 0, the next request leaves as soon as the last one is answered.
local lines = {}
local counter = 0
thread_id = 0  -- a global: setup() gives each thread its own number
local threads = {}
local run = tostring(os.time())

local function load(path)
  local items = {}
  for line in io.lines(path) do
    local method, target, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      table.insert(items, {method = method, path = target, body = (body ~= "" and body or nil)})
    end
  end
  return items
end

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local think_ms = tonumber(os.getenv("THINK_MS") or "0") or 0

function init(args)
  lines = load(os.getenv("REQUESTS"))
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  local item = lines[math.random(#lines)]
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  local body = item.body
  if body then
    counter = counter + 1
    body = body:gsub("{uniq}", run .. "-" .. thread_id .. "-" .. counter)
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(item.method, item.path, headers, body)
end

if think_ms > 0 then
  function delay()
    return math.floor(think_ms * (0.5 + math.random()))
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
