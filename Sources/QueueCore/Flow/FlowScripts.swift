public import RedisClient

/// The Lua of flow control: admission of a call against a type's pause, hold, circuit, concurrency and rate, its
/// release, the sweep that starts waiting jobs again, and lease renewal.
///
/// Every key is under one queue's prefix (`wq:{q}:flow`, ARGV[1]), so each script touches one hash slot; the keys of
/// a gate are built from its name inside the script because a sweep cannot know them in advance. Time is Redis's
/// own (`TIME`), one clock for every host. Layout (``FlowKeys``):
/// - `:paused` hash: `*` (the whole queue) or a type → until ms, `0` until resumed;
/// - `:state` hash: `<type>:held` (until ms), `<type>:circuit` (`open`, `half`), `<type>:until`, `<type>:failures`,
///   `<type>:probe`, `<type>:probeUntil`;
/// - `:g:<gate>:slots` sorted set of `<holder>|<job id>` → lease expiry ms; `:g:<gate>:waiting` list (oldest at
///   the right, as in ready); `:g:<gate>:rate` hash `tat`, `horizon`; a gate is a type, or `<type>|<key value>`;
/// - `:t:<type>:throttled` sorted set of envelopes → due ms; `:t:<type>:running` sorted set like `slots`;
/// - `:waiting` set of gates with waiting jobs; `:types` set of types with throttled jobs.
enum FlowScripts {
    /// Shared by the scripts: the clock, the state of a type's gate and the wake-up of a gate's waiting jobs.
    private static let common = #"""
        local base = ARGV[1]
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- A pause: '0' until resumed, or until a time.
        local function is_paused(value, now)
          return value and (value == '0' or (tonumber(value) or 0) > now)
        end
        -- What keeps every job of a type from starting now: 'paused', 'held' (and until), 'open' (and until),
        -- 'probing' (a probe runs); 'probe' when the next job is to probe (the cool-down is over, or the probe's lease
        -- ran out); false when nothing does.
        local function gate_state(jobtype, now)
          local paused = redis.call('HMGET', base .. ':paused', '*', jobtype)
          if is_paused(paused[1], now) or is_paused(paused[2], now) then return 'paused', 0 end
          local st = redis.call('HMGET', base .. ':state', jobtype .. ':held', jobtype .. ':circuit', jobtype .. ':until', jobtype .. ':probeUntil')
          local held = (tonumber(st[1]) or 0)
          if held > now then return 'held', held end
          if st[2] == 'open' then
            local open_until = (tonumber(st[3]) or 0)
            if open_until > now then return 'open', open_until end
            return 'probe', 0
          elseif st[2] == 'half' then
            if (tonumber(st[4]) or 0) > now then return 'probing', 0 end
            return 'probe', 0
          end
          return false, 0
        end
        -- Moves the jobs waiting at `gate` that may start now to the head of ready, the oldest first in line: up to
        -- the free slots of its concurrency `limit` (1,000 without one), one when the next job probes, none while
        -- the type is paused, held or open. Each woken job gets its slot reserved (`reserved|<id>`, for
        -- `reserve_ms`), so a newer call cannot take it first. Returns how many moved.
        local function wake(gate, limit, now, ready, reserve_ms)
          local state = gate_state(string.match(gate, '^[^|]*'), now)
          if state and state ~= 'probe' then return 0 end
          local list = base .. ':g:' .. gate .. ':waiting'
          local room = 1000
          if limit > 0 then
            local slots = base .. ':g:' .. gate .. ':slots'
            redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
            room = limit - redis.call('ZCARD', slots)
          end
          if state == 'probe' then room = math.min(room, 1) end
          local moved = 0
          if room > 0 then
            local popped = redis.call('LMPOP', 1, list, 'RIGHT', 'COUNT', room)
            if popped then
              local envelopes = popped[2]
              for i = #envelopes, 1, -1 do
                redis.call('RPUSH', ready, envelopes[i])
                local id = string.match(envelopes[i], '^{"id":"([^"]*)"')
                if limit > 0 and id then
                  redis.call('ZADD', base .. ':g:' .. gate .. ':slots', now + reserve_ms, 'reserved|' .. id)
                end
              end
              moved = #envelopes
            end
          end
          if redis.call('EXISTS', list) == 0 then redis.call('SREM', base .. ':waiting', gate) end
          return moved
        end
        """#

    /// Admits one handler call (a job, or a batch handler's group) or parks it. KEYS: active, ready, status bucket.
    /// ARGV: base, holder, type, concurrency gate (empty: none), limit, lease ms, rate gate (empty: none), token
    /// interval ms, burst, probe lease ms, status TTL, group size n, jitter guard ms, the group's n envelopes. Parked
    /// jobs leave the active list for their gate's waiting list (paused, probing, no slot) or the type's throttled
    /// set (held, open, no token yet); an admitted call takes a slot lease, a token and maybe the probe.
    /// Returns {outcome, until}: admitted, probe, paused, probing, waiting, held, open, throttled.
    static let admit = RedisScript(name: "flow-admit", source: common + "\n" + #"""
        local now = now_ms()
        local holder, jobtype = ARGV[2], ARGV[3]
        local cgate, limit, lease = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
        local rgate, interval, burst = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
        local n, first = tonumber(ARGV[12]), 14
        local statuses = {}
        -- In chunks: unpack() takes a few thousand values at most.
        local function write_statuses()
          for i = 1, #statuses, 1000 do
            redis.call('HSET', KEYS[3], unpack(statuses, i, math.min(i + 999, #statuses)))
          end
          if #statuses > 0 then redis.call('EXPIRE', KEYS[3], ARGV[11]) end
        end
        -- A job no longer held: pending again.
        local function unhold(envelope)
          local removed = redis.call('LREM', KEYS[1], -1, envelope) > 0
          local id = string.match(envelope, '^{"id":"([^"]*)"')
          if removed and id then statuses[#statuses + 1] = id; statuses[#statuses + 1] = 'pending' end
          return removed
        end
        local function park_waiting(gate)
          local list = base .. ':g:' .. gate .. ':waiting'
          for i = first, first + n - 1 do
            if unhold(ARGV[i]) then redis.call('LPUSH', list, ARGV[i]) end
          end
          redis.call('SADD', base .. ':waiting', gate)
          write_statuses()
        end
        local function park_until(due)
          local throttled = base .. ':t:' .. jobtype .. ':throttled'
          for i = first, first + n - 1 do
            if unhold(ARGV[i]) then redis.call('ZADD', throttled, due, ARGV[i]) end
          end
          redis.call('SADD', base .. ':types', jobtype)
          write_statuses()
        end

        -- A job woken for a freed slot holds it reserved: taken back here, whatever comes next.
        local first_id = string.match(ARGV[first], '^{"id":"([^"]*)"') or ''
        local reserved = cgate ~= '' and redis.call('ZREM', base .. ':g:' .. cgate .. ':slots', 'reserved|' .. first_id) == 1
        local state, state_until = gate_state(jobtype, now)
        if state == 'paused' or state == 'probing' then park_waiting(jobtype); return {state, 0} end
        if state == 'held' or state == 'open' then park_until(state_until); return {state, state_until} end
        local slots
        if cgate ~= '' then
          slots = base .. ':g:' .. cgate .. ':slots'
          redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
          if not reserved and redis.call('ZCARD', slots) >= limit then park_waiting(cgate); return {'waiting', 0} end
        end
        if rgate ~= '' then
          -- A token bucket as GCRA: tat is when the bucket would be full again. The tolerance keeps a guard in
          -- hand (ARGV[13]) so that the jitter between a call's start here and its arrival at the dependency
          -- cannot squeeze more than the limit into a window there.
          local rate = base .. ':g:' .. rgate .. ':rate'
          local r = redis.call('HMGET', rate, 'tat', 'horizon')
          local tolerance = (burst - 1) * interval - tonumber(ARGV[13])
          local tat = (tonumber(r[1]) or 0)
          local horizon = (tonumber(r[2]) or 0)
          -- Calls start at least an interval apart, and the guard's more when the tolerance is below zero (a burst
          -- of 1).
          local spacing = interval + math.max(0, -tolerance)
          local waited = 'p:' .. first_id
          if tat - now > tolerance then
            local due
            if redis.call('HEXISTS', rate, waited) == 1 and tat - tolerance - now <= spacing then
              -- It waited its turn already and came back a little early (the call before it started late): the
              -- next token is its.
              due = math.ceil(tat - tolerance)
            else
              -- No token now: due when the next token comes that no job parked earlier is due for, so parked
              -- jobs come back one token apart instead of all at once.
              due = math.ceil(math.max(tat - tolerance, horizon + spacing))
              redis.call('HSET', rate, 'horizon', due)
            end
            redis.call('HSET', rate, waited, due)
            redis.call('PEXPIRE', rate, math.ceil(math.max(tat, due, horizon) - now + interval) + 1000)
            park_until(due)
            return {'throttled', due}
          end
          redis.call('HDEL', rate, waited)
          tat = math.max(tat, now) + interval
          redis.call('HSET', rate, 'tat', tat)
          redis.call('PEXPIRE', rate, math.ceil(math.max(tat, horizon) - now + interval) + 1000)
        end
        local member = holder .. '|' .. first_id
        if slots then redis.call('ZADD', slots, now + lease, member) end
        redis.call('ZADD', base .. ':t:' .. jobtype .. ':running', now + lease, member)
        if state == 'probe' then
          redis.call('HSET', base .. ':state', jobtype .. ':circuit', 'half', jobtype .. ':probe', member,
            jobtype .. ':probeUntil', now + tonumber(ARGV[10]))
        end
        return {state == 'probe' and 'probe' or 'admitted', now + lease}
        """#)

    /// Ends an admitted call, or reports a type's back-pressure: frees the call's slot (`member` empty: none),
    /// counts the outcome for the breaker, records a hold, and wakes the jobs the freed slot or a closed circuit
    /// lets start. KEYS: ready. ARGV: base, type, member, concurrency gate, limit, outcome (`ok`, `fail`, `hold`,
    /// `none`), hold until ms, breaker failures (0: no breaker), cool-down ms, how long a woken job's slot stays
    /// reserved (ms). Returns {change, woken}: change is `opened`, `closed`, `held` or empty.
    static let release = RedisScript(name: "flow-release", source: common + "\n" + #"""
        local now = now_ms()
        local jobtype, member, cgate, limit, outcome = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
        local hold_until, threshold, cooldown = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
        local state = base .. ':state'
        if member ~= '' then
          local running = base .. ':t:' .. jobtype .. ':running'
          redis.call('ZREM', running, member)
          redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
          if cgate ~= '' then redis.call('ZREM', base .. ':g:' .. cgate .. ':slots', member) end
        end
        local st = redis.call('HMGET', state, jobtype .. ':circuit', jobtype .. ':probe', jobtype .. ':held')
        local circuit, probing = st[1], member ~= '' and st[2] == member
        local change = ''
        local function open(open_until)
          redis.call('HSET', state, jobtype .. ':circuit', 'open', jobtype .. ':until', open_until)
          redis.call('HDEL', state, jobtype .. ':probe', jobtype .. ':probeUntil', jobtype .. ':failures')
        end
        if outcome == 'ok' then
          redis.call('HDEL', state, jobtype .. ':failures')
          if probing then
            redis.call('HDEL', state, jobtype .. ':circuit', jobtype .. ':until', jobtype .. ':probe', jobtype .. ':probeUntil')
            change = 'closed'
          end
        elseif outcome == 'fail' and threshold > 0 then
          if probing then
            open(now + cooldown); change = 'opened'
          elseif not circuit and redis.call('HINCRBY', state, jobtype .. ':failures', 1) >= threshold then
            open(now + cooldown); change = 'opened'
          end
        elseif outcome == 'hold' then
          local held = (tonumber(st[3]) or 0)
          if hold_until > held then
            if held <= now then change = 'held' end
            redis.call('HSET', state, jobtype .. ':held', hold_until)
          end
          -- A probe told to wait: the circuit stays open until then, and the next job probes.
          if probing then open(hold_until) end
        elseif probing then
          -- A probe that proved nothing (a permanent failure, a shutdown): the next job probes.
          open(now)
        end
        local woken = 0
        local reserve_ms = tonumber(ARGV[10])
        if cgate ~= '' then woken = woken + wake(cgate, limit, now, KEYS[1], reserve_ms) end
        if change == 'closed' and cgate ~= jobtype then woken = woken + wake(jobtype, 0, now, KEYS[1], reserve_ms) end
        return {change, woken}
        """#)

    /// Starts what may start: forgets pauses and holds that ended, moves due throttled jobs to the head of ready
    /// and wakes every gate with waiting jobs (a lease expired, a pause ended, a hold ran out). KEYS: ready. ARGV:
    /// base, how long a woken job's slot stays reserved (ms), then triples of type, concurrency limit (0: none), `1`
    /// when the limit is per key. Returns {next due ms or -1, jobs moved}.
    static let sweep = RedisScript(name: "flow-sweep", source: common + "\n" + #"""
        local now = now_ms()
        local limits, keyed = {}, {}
        local reserve_ms = tonumber(ARGV[2])
        for i = 3, #ARGV, 3 do
          limits[ARGV[i]] = tonumber(ARGV[i + 1])
          keyed[ARGV[i]] = ARGV[i + 2] == '1'
        end
        local next_due, moved = -1, 0
        -- Forget pauses and holds that have ended.
        local paused = redis.call('HGETALL', base .. ':paused')
        for i = 1, #paused, 2 do
          if paused[i + 1] ~= '0' and (tonumber(paused[i + 1]) or 0) <= now then redis.call('HDEL', base .. ':paused', paused[i]) end
        end
        local state = redis.call('HGETALL', base .. ':state')
        for i = 1, #state, 2 do
          if string.sub(state[i], -5) == ':held' and (tonumber(state[i + 1]) or 0) <= now then redis.call('HDEL', base .. ':state', state[i]) end
        end
        for _, jobtype in ipairs(redis.call('SMEMBERS', base .. ':types')) do
          local throttled = base .. ':t:' .. jobtype .. ':throttled'
          local due = redis.call('ZRANGEBYSCORE', throttled, '-inf', now, 'LIMIT', 0, 1000)
          if #due > 0 then
            redis.call('ZREM', throttled, unpack(due))
            for i = #due, 1, -1 do redis.call('RPUSH', KEYS[1], due[i]) end
            moved = moved + #due
          end
          local following = redis.call('ZRANGE', throttled, 0, 0, 'WITHSCORES')
          if following[2] then
            local at = tonumber(following[2])
            if next_due < 0 or at < next_due then next_due = at end
          else
            redis.call('SREM', base .. ':types', jobtype)
          end
        end
        for _, gate in ipairs(redis.call('SMEMBERS', base .. ':waiting')) do
          local jobtype = string.match(gate, '^[^|]*')
          local limit = limits[jobtype] or 0
          -- A keyed type's own list holds jobs waiting for a resume or a probe, not for one key's slots.
          if keyed[jobtype] and gate == jobtype then limit = 0 end
          moved = moved + wake(gate, limit, now, KEYS[1], reserve_ms)
        end
        return {next_due, moved}
        """#)

    /// Takes a slot and a token of a budget that callers wait for themselves (the store's REST budget), or says how
    /// long to wait. ARGV: base, gate, member, concurrency limit (0: none), lease ms, token interval ms (0: no rate),
    /// burst, jitter guard ms. Returns {1, 0} when granted, {0, wait ms} (-1: until a slot frees) when not.
    static let acquire = RedisScript(name: "flow-acquire", source: common + "\n" + #"""
        local now = now_ms()
        local gate, member, limit, lease = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
        local interval, burst = tonumber(ARGV[6]), tonumber(ARGV[7])
        local slots = base .. ':g:' .. gate .. ':slots'
        if limit > 0 then
          redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
          if redis.call('ZCARD', slots) >= limit then return {0, -1} end
        end
        if interval > 0 then
          local rate = base .. ':g:' .. gate .. ':rate'
          local tolerance = (burst - 1) * interval - tonumber(ARGV[8])
          local tat = tonumber(redis.call('HGET', rate, 'tat') or '0')
          if tat - now > tolerance then return {0, math.ceil(tat - tolerance - now)} end
          tat = math.max(tat, now) + interval
          redis.call('HSET', rate, 'tat', tat)
          redis.call('PEXPIRE', rate, math.ceil(tat - now + interval) + 1000)
        end
        if limit > 0 then redis.call('ZADD', slots, now + lease, member) end
        return {1, 0}
        """#)

    /// Extends this process's slot leases. ARGV: base, lease ms, then pairs of key suffix (after base) and member.
    static let renew = RedisScript(name: "flow-renew", source: common + "\n" + #"""
        local expiry = now_ms() + tonumber(ARGV[2])
        for i = 3, #ARGV, 2 do redis.call('ZADD', base .. ARGV[i], 'XX', expiry, ARGV[i + 1]) end
        return 0
        """#)

    /// What `status`, the dashboard and `/metrics` show. ARGV: base, the configured limited types…. Returns {paused
    /// hash, state hash, now, then per type {type, running, waiting, throttled}} for those types and every type
    /// that is paused, has a state, or has jobs waiting.
    static let report = RedisScript(name: "flow-report", source: common + "\n" + #"""
        local now = now_ms()
        local rows, order = {}, {}
        local function row(jobtype)
          if not rows[jobtype] then
            rows[jobtype] = {jobtype, 0, 0, 0}
            order[#order + 1] = jobtype
          end
          return rows[jobtype]
        end
        for i = 2, #ARGV do row(ARGV[i]) end
        local paused = redis.call('HGETALL', base .. ':paused')
        for i = 1, #paused, 2 do if paused[i] ~= '*' then row(paused[i]) end end
        local state = redis.call('HGETALL', base .. ':state')
        for i = 1, #state, 2 do row(string.match(state[i], '^(.*):[^:]*$') or state[i]) end
        for _, gate in ipairs(redis.call('SMEMBERS', base .. ':waiting')) do
          local r = row(string.match(gate, '^[^|]*'))
          r[3] = r[3] + redis.call('LLEN', base .. ':g:' .. gate .. ':waiting')
        end
        for _, jobtype in ipairs(redis.call('SMEMBERS', base .. ':types')) do
          local r = row(jobtype)
          r[4] = redis.call('ZCARD', base .. ':t:' .. jobtype .. ':throttled')
        end
        local out = {paused, state, now}
        for _, jobtype in ipairs(order) do
          local r = rows[jobtype]
          r[2] = redis.call('ZCOUNT', base .. ':t:' .. jobtype .. ':running', now, '+inf')
          out[#out + 1] = r
        end
        return out
        """#)
}
