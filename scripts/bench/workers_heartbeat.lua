-- wrk script for scripts/bench/workers.sh (a): a heartbeat flood from HB_WORKERS simulated workers.
-- Every request is the next worker's protocol_version 2 heartbeat (workers.md §4): IDs
-- bench-00000 ... (HB_WORKERS - 1), each with its own epoch and started_at (fixed per worker, so
-- the same "process" keeps beating), all authenticated with the shared auth.worker_token.
-- Thread t of HB_THREADS sends workers t, t + HB_THREADS, t + 2 * HB_THREADS, ... in turn.
-- Environment: HB_WORKERS (10000), HB_THREADS (wrk -t), HB_TOKEN (the shared token),
-- HB_BASE (Unix seconds; worker i started at HB_BASE + i), HB_RESULT (file for the counts).
-- done() writes "ok200=N non200=N" (responses by status) to HB_RESULT.

local workers = tonumber(os.getenv("HB_WORKERS") or "10000")
local token = os.getenv("HB_TOKEN") or ""
local nthreads = tonumber(os.getenv("HB_THREADS") or "1")
local base = tonumber(os.getenv("HB_BASE") or "0")
if base == 0 then base = os.time() - 86400 end
local threads = {}
local counter = 0
local cache = {}
-- Globals, read by done() through thread:get.
tid, ok200, non200 = 0, 0, 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function build(i)
  local id = string.format("bench-%05d", i)
  local body = string.format(
    '{"hostname":"%s.bench.internal","status":"online","epoch":"e%05d-bench","started_at":"%s.000Z",' ..
    '"protocol_version":2,"version":"1.0.0","heartbeat_interval":"10s","providers":["mock"],' ..
    '"capabilities":["spawn","exec","exec_stream","files","logs","preview","inventory","drain","stats"],' ..
    '"capacity":{"max_sandboxes":0,"max_sandboxes_per_owner":0,"vcpus":16,"memory_mb":51200,' ..
    '"rpc_url":"http://127.0.0.1:%d"},"usage":{"sandboxes":0,"vcpus":0,"memory_mb":0},' ..
    '"labels":{"zone":"bench"},"outstanding_work":0}',
    id, i, os.date("!%Y-%m-%dT%H:%M:%S", base + i), 20000 + i)
  return wrk.format("POST", "/api/v1/worker/" .. id .. "/heartbeat",
    {["Content-Type"] = "application/json", ["X-Worker-ID"] = id, ["X-Worker-Token"] = token}, body)
end

function request()
  local i = (counter * nthreads + tid) % workers
  counter = counter + 1
  local r = cache[i]
  if r == nil then
    r = build(i)
    cache[i] = r
  end
  return r
end

function response(status, headers, body)
  if status == 200 then ok200 = ok200 + 1 else non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local ok, other = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("ok200")
    other = other + thread:get("non200")
  end
  local path = os.getenv("HB_RESULT")
  if path and path ~= "" then
    local f = io.open(path, "w")
    f:write(string.format("ok200=%d non200=%d\n", ok, other))
    f:close()
  end
end
