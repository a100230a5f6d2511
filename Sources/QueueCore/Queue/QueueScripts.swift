import RedisClient

/// The Lua scripts that move envelopes between a queue's keys atomically.
///
/// Each works on one queue's keys (one hash tag). A held job is found again by the exact bytes Redis handed out
/// (`LREM` of the held envelope), never by re-encoding it. What the scripts read inside an envelope rests on
/// three guarantees of ``JobEnvelope``'s encoder, each checked by its unit tests: the id is the first member
/// (`^{"id":"…"`), the payload is the last (so the members before `,"payload":` are the envelope's own), and
/// `recoveries` is written as a plain integer.
///
/// Why patterns and not `cjson`: decoding every envelope in Lua would cost Redis, the shared bottleneck, more
/// than the whole fetch does today, and re-encoding would round numbers in payloads (cjson keeps 14 digits).
enum QueueScripts {
    /// Enqueues jobs, keeping their order. KEYS: ready, delayed, stats, status bucket, coalesce hash. ARGV[1]:
    /// status TTL s; then one entry per job, led by its kind:
    /// - `j` id, due ms or 0, envelope: a plain job;
    /// - `b` id, due ms or 0, envelope, key: a plain job that ends `key`'s merge window (a deletion);
    /// - `c` id, due ms or 0, envelope without payload, key, version, payload: a merging job.
    /// The coalesce hash holds `key` → the id of the merging job waiting for it, and `#<id>` → that job's latest
    /// `version\npayload`. A merging job whose key points at a waiting job adds nothing: the waiting job takes
    /// its payload if its version is not older. Returns {jobs added, jobs merged}.
    static let enqueue = RedisScript(name: "enqueue", source: #"""
        -- Collect the writes, to issue each as one command at the end.
        local statuses, envelopes, scored = {}, {}, {}
        local merged = 0
        -- A job added: pending in the status bucket, and on ready (due now) or delayed (due later).
        local function add(id, due, envelope)
          statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'pending'
          if due == '0' then
            envelopes[#envelopes + 1] = envelope
          else
            scored[#scored + 1] = due; scored[#scored + 1] = envelope
          end
        end
        local i = 2
        while i <= #ARGV do
          local kind, id, due, envelope = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
          if kind == 'j' then
            -- A plain job.
            add(id, due, envelope)
            i = i + 4
          elseif kind == 'b' then
            -- A job that ends its key's merge window: later merging jobs of the key start a new one.
            redis.call('HDEL', KEYS[5], ARGV[i + 4])
            add(id, due, envelope)
            i = i + 5
          else
            -- A merging job: join the job waiting for the key, if there is one.
            local key, version, payload = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
            i = i + 7
            local waiting = redis.call('HGET', KEYS[5], key)
            local current = waiting and redis.call('HGET', KEYS[5], '#' .. waiting)
            if current then
              -- Merged: the waiting job takes this payload unless it already holds a newer version.
              merged = merged + 1
              if version >= (string.match(current, '^([^\n]*)\n') or '') then
                redis.call('HSET', KEYS[5], '#' .. waiting, version .. '\n' .. payload)
              end
            else
              -- The first of its window: it waits, and holds the key's latest state.
              redis.call('HSET', KEYS[5], key, id, '#' .. id, version .. '\n' .. payload)
              add(id, due, envelope)
            end
          end
        end
        -- Write the jobs, their statuses and the counters.
        if #envelopes > 0 then redis.call('LPUSH', KEYS[1], unpack(envelopes)) end
        if #scored > 0 then redis.call('ZADD', KEYS[2], unpack(scored)) end
        local added = #statuses / 2
        if added > 0 then
          redis.call('HSET', KEYS[4], unpack(statuses))
          redis.call('EXPIRE', KEYS[4], ARGV[1])
          redis.call('HINCRBY', KEYS[3], 'enqueued', added)
        end
        if merged > 0 then redis.call('HINCRBY', KEYS[3], 'coalesced', merged) end
        return {added, merged}
        """#)

    /// The size in bytes from which an envelope (a catalogue page) is moved into an active list by commands that
    /// do not carry it (`LMOVE`), so the AOF and the replicas do not get it again, and is released by its id and
    /// length (``QueueStore``'s settle records), not sent back.
    static let largeEnvelope = 4096

    /// Lua that gives a merging envelope its latest state as it is taken: removes the state (and the key's
    /// pointer, if it still points at this job) from the coalesce hash, puts the payload in place of the trailing
    /// `{}`, and renames `coalesce` to `coalesced` so the job is never filled twice (after a recovery, say).
    private static let fillCoalesced = #"""
        local function fill(envelope, coalesce)
          -- Look only at the members before the payload (always last): a payload may hold a "coalesce" member of
          -- its own, and plain finds over the short head are far cheaper than a pattern over the whole envelope.
          local head = string.sub(envelope, 1, string.find(envelope, ',"payload":', 1, true) or #envelope)
          if not string.find(head, '"coalesce":"', 1, true) then return envelope end
          local key = string.match(head, '"coalesce":"([^"]*)"')
          local id = string.match(envelope, '^{"id":"([^"]*)"')
          if not key or not id then return envelope end
          -- Take the latest state, and end the key's window if this job still holds it.
          local current = redis.call('HGET', coalesce, '#' .. id)
          redis.call('HDEL', coalesce, '#' .. id)
          if redis.call('HGET', coalesce, key) == id then redis.call('HDEL', coalesce, key) end
          -- Mark it filled, then put the state's payload in place of the empty one.
          envelope = string.gsub(envelope, '"coalesce":"', '"coalesced":"', 1)
          local payload = current and string.match(current, '^[^\n]*\n(.*)$')
          if payload and string.sub(envelope, -3) == '{}}' then
            envelope = string.sub(envelope, 1, -4) .. payload .. '}'
          end
          return envelope
        end
        """#

    /// Lua `take(ready, active, bucket, coalesce, max, workers, ttl, mark, held)`: moves up to `max` envelopes
    /// (but no more than a fair share, ready / `workers`) from ready to the holder's active list, oldest first, and
    /// when `mark` marks them processing. `held`, when given, is an envelope the worker already took with BLMOVE:
    /// it is filled and marked too, and returned first. Returns the envelopes taken.
    private static let take = "local large = \(largeEnvelope)\n" + fillCoalesced + "\n" + #"""
        local function take(ready, active, bucket, coalesce, max, workers, ttl, mark, held)
          local statuses, taken = {}, {}
          -- A job taken: processing in the status bucket (when marked), and in the reply.
          local function hold(envelope)
            if mark then
              local id = string.match(envelope, '^{"id":"([^"]*)"')
              if id then statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'processing' end
            end
            taken[#taken + 1] = envelope
          end
          -- The held envelope is filled only if it is still this worker's (not recovered by another meanwhile).
          if held and redis.call('LREM', active, 1, held) == 1 then
            local filled = fill(held, coalesce)
            redis.call('LPUSH', active, filled)
            hold(filled)
          end
          -- Take this worker's fair share of ready, oldest first, into its active list. Each goes to the head of
          -- active, so the oldest held is at its tail.
          local length = redis.call('LLEN', ready)
          if length > 0 and max > 0 then
            local n = math.min(max, math.ceil(length / workers))
            local first = redis.call('LMOVE', ready, active, 'RIGHT', 'LEFT')
            if #first >= large then
              -- Large envelopes (catalogue pages) move one by one: the AOF and the replicas get each move as a
              -- short command, where a push would carry the envelope again. Only a filled one is written anew.
              local moved = { first }
              for _ = 2, n do moved[#moved + 1] = redis.call('LMOVE', ready, active, 'RIGHT', 'LEFT') end
              for i, envelope in ipairs(moved) do
                local filled = fill(envelope, coalesce)
                if filled ~= envelope then redis.call('LSET', active, #moved - i, filled) end
                hold(filled)
              end
            else
              -- Small ones go in three commands, whatever their number.
              local filled = fill(first, coalesce)
              if filled ~= first then redis.call('LSET', active, 0, filled) end
              hold(filled)
              if n > 1 then
                local popped = redis.call('LMPOP', 1, ready, 'RIGHT', 'COUNT', n - 1)[2]
                local fresh = {}
                for _, envelope in ipairs(popped) do
                  filled = fill(envelope, coalesce)
                  fresh[#fresh + 1] = filled
                  hold(filled)
                end
                redis.call('LPUSH', active, unpack(fresh))
              end
            end
          end
          -- Mark them all processing in one write.
          if #statuses > 0 then
            redis.call('HSET', bucket, unpack(statuses))
            redis.call('EXPIRE', bucket, ttl)
          end
          return taken
        end
        """#

    /// Takes jobs (Lua `take`). KEYS: ready, active, status bucket, coalesce hash. ARGV: max, workers, status TTL,
    /// mark processing (`1` or `0`), [held envelope].
    static let fetch = RedisScript(name: "fetch", source: take + "\n" + #"""
        return take(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1', ARGV[5])
        """#)

    /// Lua `settle(active, ready, delayed, dead, stats, bucket, events, ttl, kept, first)`: settles finished jobs held
    /// in a process's active list, from the records in ARGV[first…]. Records of 7 ARGV: kind, id, held envelope,
    /// held length, new envelope, due ms, event (empty for none). Kinds: done; retry and postpone (to delayed at
    /// the due time); dead (to the dead-letter list); requeue (back to the head of ready). A job no longer in the
    /// active list was recovered by another process and is left alone. A record with a held length and no held
    /// envelope is a large job released by its id (Lua `release_large`). A record with neither is a part split off
    /// the record before it, applied (and counted as enqueued) only if that one was. Keeps the newest `kept`
    /// events. Returns the number of records left alone.
    private static let settleRecords = #"""
        -- A large envelope (a catalogue page) is not sent back to be released: its record gives its length instead.
        -- Every string that enters Lua is hashed byte by byte, and LREM would put the envelope in the AOF again. It
        -- is usually the oldest held, at the tail: found there by its id and length, and trimmed off (a pop would
        -- hand it to Lua once more); elsewhere (rare), by a scan. False when it is not held.
        local function release_large(active, id, length)
          local prefix = '{"id":"' .. id .. '"'
          local function is_job(envelope)
            return envelope and #envelope == length and string.sub(envelope, 1, #prefix) == prefix
          end
          if is_job(redis.call('LINDEX', active, -1)) then
            redis.call('LTRIM', active, 0, -2)
            return true
          end
          for _, envelope in ipairs(redis.call('LRANGE', active, 0, -1)) do
            if is_job(envelope) then return redis.call('LREM', active, -1, envelope) > 0 end
          end
          return false
        end

        local function settle(active, ready, delayed, dead, stats, bucket, events_key, ttl, kept, first)
          local statuses, events = {}, {}
          local counts = { done = 0, retry = 0, dead = 0 }
          local status_of = { done = 'done', retry = 'retry', postpone = 'retry', dead = 'failed', requeue = 'pending' }
          local stale, applied, parts = 0, false, 0
          for i = first, #ARGV, 7 do
            local kind, id, held, length = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
            local new, due, event = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
            -- Release the held job; if it is gone, another process recovered it and owns it now.
            if held ~= '' or length ~= '' then
              if length ~= '' then
                applied = release_large(active, id, tonumber(length))
              else
                applied = redis.call('LREM', active, -1, held) > 0
              end
              if not applied then stale = stale + 1 end
            elseif applied then
              parts = parts + 1
            end
            if applied then
              -- Put the job where its outcome sends it.
              if kind == 'retry' or kind == 'postpone' then
                redis.call('ZADD', delayed, due, new)
              elseif kind == 'dead' then
                redis.call('LPUSH', dead, new)
              elseif kind == 'requeue' then
                redis.call('RPUSH', ready, new)
              end
              if counts[kind] then counts[kind] = counts[kind] + 1 end
              statuses[#statuses + 1] = id; statuses[#statuses + 1] = status_of[kind]
              if event ~= '' then events[#events + 1] = event end
            end
          end
          -- Statuses, counters and events, each in one write.
          if #statuses > 0 then
            redis.call('HSET', bucket, unpack(statuses))
            redis.call('EXPIRE', bucket, ttl)
          end
          if parts > 0 then redis.call('HINCRBY', stats, 'enqueued', parts) end
          if counts.done > 0 then redis.call('HINCRBY', stats, 'done', counts.done) end
          if counts.retry > 0 then redis.call('HINCRBY', stats, 'retried', counts.retry) end
          if counts.dead > 0 then redis.call('HINCRBY', stats, 'dead', counts.dead) end
          -- Keep only the newest events.
          if #events > 0 then
            redis.call('LPUSH', events_key, unpack(events))
            redis.call('LTRIM', events_key, 0, kept - 1)
          end
          return stale
        end
        """#

    /// Settles finished jobs (Lua `settle`). KEYS: active, ready, delayed, dead, stats, status bucket, events. ARGV:
    /// status TTL, events kept, records…. Returns the number of records left alone.
    static let settle = RedisScript(name: "settle", source: settleRecords + "\n" + #"""
        return settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], tonumber(ARGV[2]), 3)
        """#)

    /// Settles finished jobs, then takes the next ones, in one call (ack-and-fetch): a busy worker's one round trip
    /// per batch. KEYS: active, ready, delayed, dead, stats, status bucket, events, coalesce hash. ARGV: status TTL,
    /// events kept, max, workers, mark processing (`1` or `0`), records…. Returns the number of records left alone,
    /// then the envelopes taken.
    static let settleAndFetch = RedisScript(name: "settle-and-fetch", source: settleRecords + "\n" + take + "\n" + #"""
        local stale = settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], tonumber(ARGV[2]), 6)
        local taken = take(KEYS[2], KEYS[1], KEYS[6], KEYS[8], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[1], ARGV[5] == '1', nil)
        table.insert(taken, 1, stale)
        return taken
        """#)

    /// Moves delayed envelopes due by ARGV[1] (ms) to the tail of ready, at most ARGV[2] per call.
    /// KEYS: delayed, ready, status bucket. ARGV: now, limit, status TTL. Returns how many moved.
    static let promote = RedisScript(name: "promote", source: #"""
        -- The due envelopes, oldest due first.
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        if #due == 0 then return 0 end
        -- Move them to the tail of ready.
        redis.call('ZREM', KEYS[1], unpack(due))
        redis.call('LPUSH', KEYS[2], unpack(due))
        -- Mark them pending again.
        local statuses = {}
        for _, envelope in ipairs(due) do
          local id = string.match(envelope, '^{"id":"([^"]*)"')
          if id then statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'pending' end
        end
        if #statuses > 0 then
          redis.call('HSET', KEYS[3], unpack(statuses))
          redis.call('EXPIRE', KEYS[3], ARGV[3])
        end
        return #due
        """#)

    /// Returns the envelopes of one holder's active list to the head of ready, the oldest ending up first in
    /// line. ARGV[4] `recover`: the holder's process died, so each envelope's `recoveries` is raised, counted and
    /// logged; `return`: the holder itself gives back jobs it is not running (a fetch reply was lost). KEYS: the
    /// active list, ready, stats, status bucket, events. ARGV: now ms, status TTL, events kept, mode. Returns how
    /// many were moved.
    static let recover = RedisScript(name: "recover", source: #"""
        local recovering = ARGV[4] == 'recover'
        local statuses = {}
        local n = 0
        local function flush_statuses()
          if #statuses > 0 then redis.call('HSET', KEYS[4], unpack(statuses)); statuses = {} end
        end
        -- Newest first off the active list (pushed at its head), each to the consuming end of ready: the oldest
        -- ends up first in line.
        while true do
          local envelope = redis.call('LPOP', KEYS[1])
          if not envelope then break end
          local id = string.match(envelope, '^{"id":"([^"]*)"')
          if recovering then
            -- Count the recovery in the envelope (never an attempt: the job did not fail), and log it.
            local recoveries = tonumber(string.match(envelope, '"recoveries":(%d+)') or '0') + 1
            envelope = string.gsub(envelope, '"recoveries":%d+', '"recoveries":' .. recoveries, 1)
            if id then
              local jobtype = string.match(envelope, '"type":"([^"]*)"') or ''
              redis.call('LPUSH', KEYS[5], '{"at":' .. ARGV[1] .. ',"id":"' .. id .. '","type":"' .. jobtype ..
                '","event":"recovered","status":"pending","attempt":' .. recoveries .. '}')
            end
          end
          redis.call('RPUSH', KEYS[2], envelope)
          n = n + 1
          if id then statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'pending' end
          -- HSET in chunks: unpack() has a limit of a few thousand values.
          if #statuses >= 1000 then flush_statuses() end
        end
        flush_statuses()
        -- Counters, and the event list's length, once.
        if n > 0 then
          redis.call('EXPIRE', KEYS[4], ARGV[2])
          if recovering then
            redis.call('HINCRBY', KEYS[3], 'recovered', n)
            redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[3]) - 1)
          end
        end
        return n
        """#)

    /// Claims a silent process for recovery: if its heartbeat is still absent, removes it from the registry and
    /// returns its record, so exactly one recoverer proceeds. KEYS: heartbeat, registry. ARGV: process id.
    static let claimProcess = RedisScript(name: "claim-process", source: #"""
        -- A heartbeat came back: the process lives, nothing to recover.
        if redis.call('EXISTS', KEYS[1]) == 1 then return false end
        -- Another recoverer already claimed it.
        local record = redis.call('HGET', KEYS[2], ARGV[1])
        if not record then return false end
        -- Ours: off the registry, so no one else claims it.
        redis.call('HDEL', KEYS[2], ARGV[1])
        return record
        """#)

    /// Sets a hash field to a number unless it holds a greater one, so times written by several processes only
    /// move forward. KEYS: hash. ARGV: field, number.
    static let hashMax = RedisScript(name: "hash-max", source: #"""
        local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
        if current and current >= tonumber(ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        return 1
        """#)

    /// Adds to a hash field's count, but adds no new field once the hash holds `limit` fields, so counts keyed by
    /// what unsigned requests name cannot grow without bound. KEYS: hash. ARGV: field, increment, limit.
    static let boundedCount = RedisScript(name: "bounded-count", source: #"""
        if not redis.call('HGET', KEYS[1], ARGV[1]) and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
        return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
        """#)

    /// Replaces dead-letter entries: each pair of ARGV (held, new) removes `held` from the dead list and, when
    /// `new` is not empty, pushes it to the tail of ready. KEYS: dead, ready, status bucket. ARGV: status TTL,
    /// pairs…. Returns how many entries were found.
    static let reviveOrDelete = RedisScript(name: "dead-letter-review", source: #"""
        local statuses = {}
        local found = 0
        for i = 2, #ARGV, 2 do
          -- An entry already gone (another reviewer took it) is skipped.
          if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then
            found = found + 1
            -- Revived: to the tail of ready, pending.
            if ARGV[i + 1] ~= '' then
              redis.call('LPUSH', KEYS[2], ARGV[i + 1])
              local id = string.match(ARGV[i + 1], '^{"id":"([^"]*)"')
              if id then statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'pending' end
            end
          end
        end
        if #statuses > 0 then
          redis.call('HSET', KEYS[3], unpack(statuses))
          redis.call('EXPIRE', KEYS[3], ARGV[1])
        end
        return found
        """#)
}
