-- wrk script for the webhook intake: POSTs one signed product delivery with a fresh X-WC-Webhook-Delivery-ID
-- per request (so none is dropped as a repeat; all coalesce into one waiting upsert).
-- Usage: see README.md, "Benchmarks" (BODY = file with the body, SIGNATURE = its base64 HMAC-SHA256).
local file = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-WC-Webhook-Topic"] = "product.updated"
wrk.headers["X-WC-Webhook-Signature"] = os.getenv("SIGNATURE")

local counter = 0
local prefix = tostring(math.random(1, 1e9))
request = function()
  counter = counter + 1
  wrk.headers["X-WC-Webhook-Delivery-ID"] = prefix .. "-" .. counter
  return wrk.format()
end

local non200 = 0
response = function(status)
  if status ~= 200 then non200 = non200 + 1 end
end
