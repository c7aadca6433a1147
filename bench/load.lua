-- wrk script of `python -m bench`: POSTs monitoring events to Pacta's ingest, or alerts to
-- Alertmanager's /api/v2/alerts, every one with an id (or label set) of its own.
--
-- Configured by environment variables (read when wrk loads the script, in every Lua state):
--   BENCH_TARGET    "alertmanager" (POST /api/v2/alerts: alerts in an array) or anything else
--                   ("pacta", "calibration": Pacta monitoring events, one object or an array)
--   BENCH_BATCH     events per request; 1 sends one JSON object (Pacta) / a one-element array (AM)
--   BENCH_PREFIX    unique prefix of this run's ids (random per bench run + run label)
--   BENCH_OCCURRED  RFC 3339 timestamp used as occurred_at / startsAt
--   BENCH_TOKEN     API key sent as "Authorization: Bearer" (Pacta only)
--   BENCH_SERVICES  distinct service names cycled through (Kafka partition keys), default 64
--   BENCH_RATE      requests per second for the whole run (0 or unset: closed loop, as fast as
--                   the connections go); paced runs schedule request k at t0 + k/rate
--   BENCH_THREADS   wrk threads (the per-thread rate is BENCH_RATE / BENCH_THREADS)
--
-- done() prints one line "BENCHJSON {...}" with wrk's summary, latency percentiles, the HTTP
-- statuses counted in response(), the requests sent (built) and, for paced runs, how late the
-- sends were against their schedule.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk_id, bench_timespec_t *tp);
]]
local ts = ffi.new("bench_timespec_t")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local target = os.getenv("BENCH_TARGET") or "pacta"
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local run_prefix = os.getenv("BENCH_PREFIX") or "bench"
local occurred = os.getenv("BENCH_OCCURRED") or "2026-01-01T00:00:00Z"
local token = os.getenv("BENCH_TOKEN")
local services = tonumber(os.getenv("BENCH_SERVICES") or "64")
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local am = target == "alertmanager"
if token and token ~= "" and not am then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- setup() and done() run in the main Lua state -------------------------------------------------

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- the running phase, one Lua state per wrk thread ----------------------------------------------

sent = 0            -- requests built (= written, or about to be)
counts = {}         -- HTTP status -> responses
err_sample = nil    -- the first non-2xx body, for the report
-- paced runs only
slots = 0
late_1ms = 0        -- sends more than 1 ms behind their slot
late_5ms = 0
lag_max = 0.0       -- seconds
lag_sum = 0.0

local prefix = nil
local n = 0

local function event(id, svc)
  if not am then
    return '{"id":"' .. id .. '","occurred_at":"' .. occurred .. '","service":"svc-' .. svc
      .. '","check":"bench","status":"firing","severity":"major","summary":"bench load"}'
  end
  return '{"labels":{"alertname":"bench","service":"svc-' .. svc .. '","severity":"major",'
    .. '"instance":"' .. id .. '"},"annotations":{"summary":"bench load"},"startsAt":"'
    .. occurred .. '"}'
end

function request()
  if prefix == nil then
    prefix = run_prefix .. "-t" .. tostring(tid or 0) .. "-"
  end
  n = n + 1
  sent = sent + 1
  local body
  if batch == 1 and not am then
    body = event(prefix .. n, n % services)
  elseif batch == 1 then
    body = "[" .. event(prefix .. n, n % services) .. "]"
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = event(prefix .. n .. "-" .. i, (n * batch + i) % services)
    end
    body = "[" .. table.concat(parts, ",") .. "]"
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
  if status >= 300 and err_sample == nil then
    err_sample = key .. " " .. string.sub(body or "", 1, 300)
  end
end

if rate > 0 then
  local interval = nthreads / rate
  local t0 = nil
  -- wrk calls delay() before each request of a connection; whichever connection is free takes
  -- the next slot of an absolute schedule, so the rate does not drift with the latency.
  -- wrk's timer has 1 ms resolution: a send may leave up to 0.5 ms early or late.
  function delay()
    local t = now()
    if t0 == nil then
      t0 = t
    end
    local due = t0 + slots * interval
    slots = slots + 1
    local wait = due - t
    if wait < 0 then
      local lag = -wait
      lag_sum = lag_sum + lag
      if lag > lag_max then lag_max = lag end
      if lag > 0.001 then late_1ms = late_1ms + 1 end
      if lag > 0.005 then late_5ms = late_5ms + 1 end
      return 0
    end
    return math.floor(wait * 1000 + 0.5)
  end
end

-- done(): one JSON line ----------------------------------------------------------------------

local function encode(v)
  local t = type(v)
  if t == "table" then
    local out = {}
    for k, x in pairs(v) do
      out[#out + 1] = encode(tostring(k)) .. ":" .. encode(x)
    end
    return "{" .. table.concat(out, ",") .. "}"
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return "null"
end

function done(summary, latency, requests)
  local statuses, per_thread = {}, {}
  local total_sent, total_slots, l1, l5, lmax, lsum = 0, 0, 0, 0, 0.0, 0.0
  for _, thread in ipairs(threads) do
    local c = thread:get("counts") or {}
    for k, v in pairs(c) do
      statuses[k] = (statuses[k] or 0) + v
    end
    total_sent = total_sent + (thread:get("sent") or 0)
    total_slots = total_slots + (thread:get("slots") or 0)
    l1 = l1 + (thread:get("late_1ms") or 0)
    l5 = l5 + (thread:get("late_5ms") or 0)
    lsum = lsum + (thread:get("lag_sum") or 0)
    local m = thread:get("lag_max") or 0
    if m > lmax then lmax = m end
    local e = thread:get("err_sample")
    if e then per_thread[#per_thread + 1] = e end
  end
  local pct = {}
  for _, p in ipairs({ 50, 75, 90, 99, 99.9, 99.99 }) do
    pct[tostring(p)] = latency:percentile(p)
  end
  local result = {
    duration_us = summary.duration,
    responses = summary.requests,
    bytes = summary.bytes,
    errors = summary.errors,
    latency_us = {
      min = latency.min, max = latency.max, mean = latency.mean, stdev = latency.stdev,
      percentiles = pct,
    },
    statuses = statuses,
    sent = total_sent,
    batch = batch,
    target = target,
    rate = rate,
    pacing = { slots = total_slots, late_1ms = l1, late_5ms = l5, lag_max_s = lmax,
      lag_sum_s = lsum },
    error_samples = per_thread,
  }
  io.write("BENCHJSON " .. encode(result) .. "\n")
end
