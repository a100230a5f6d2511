-- An id-based layout: the lists hold ids, the envelopes live in a hash by id. KEYS: ready, active, status, jobs.
-- ARGV: jobs, envelope tail. Run by ./run.
local n = tonumber(ARGV[1]); local env = ARGV[2]
for i = 1, n do
  local id = 'j' .. i
  redis.call('HSET', KEYS[4], id, '{"id":"' .. id .. '"' .. env)
  redis.call('LPUSH', KEYS[1], id)
  redis.call('HSET', KEYS[3], id, 'pending')
end
for i = 1, n do
  local id = redis.call('RPOP', KEYS[1])
  local e = redis.call('HGET', KEYS[4], id)
  redis.call('LPUSH', KEYS[2], id)
  redis.call('HSET', KEYS[3], id, 'processing')
  redis.call('LREM', KEYS[2], -1, id)
  redis.call('HSET', KEYS[3], id, 'done')
  redis.call('HDEL', KEYS[4], id)
end
return n
