-- wrk script for the webhook intake: POSTs signed product deliveries, a distinct one per request (the intake drops a
-- repeated body), read from DELIVERIES: one "signature body" pair per line, made by scripts/bench/ingest.
-- Usage: see README.md, "Benchmarks".
local deliveries = {}
for line in io.lines(os.getenv("DELIVERIES")) do
  local space = line:find(" ", 1, true)
  deliveries[#deliveries + 1] = { line:sub(1, space - 1), line:sub(space + 1) }
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-WC-Webhook-Topic"] = "product.updated"

local counter = 0
local prefix = tostring(math.random(1, 1e9))
request = function()
  counter = counter + 1
  local delivery = deliveries[(counter - 1) % #deliveries + 1]
  wrk.headers["X-WC-Webhook-Delivery-ID"] = prefix .. "-" .. counter
  wrk.headers["X-WC-Webhook-Signature"] = delivery[1]
  return wrk.format(nil, nil, nil, delivery[2])
end

local non200 = 0
response = function(status)
  if status ~= 200 then non200 = non200 + 1 end
end
