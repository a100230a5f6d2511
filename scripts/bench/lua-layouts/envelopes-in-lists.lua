-- The layout wooqueue uses: the lists hold envelopes, the id is read by pattern, a held job is released by its
-- bytes. KEYS: ready, active, status, (unused). ARGV: jobs, envelope tail. Run by ./run.
local n = tonumber(ARGV[1]); local env = ARGV[2]
for i = 1, n do
  local e = '{"id":"j' .. i .. '"' .. env
  redis.call('LPUSH', KEYS[1], e)
  redis.call('HSET', KEYS[3], 'j' .. i, 'pending')
end
for i = 1, n do
  local e = redis.call('RPOP', KEYS[1])
  local id = string.match(e, '^{"id":"([^"]*)"')
  redis.call('LPUSH', KEYS[2], e)
  redis.call('HSET', KEYS[3], id, 'processing')
  redis.call('LREM', KEYS[2], -1, e)
  redis.call('HSET', KEYS[3], id, 'done')
end
return n
