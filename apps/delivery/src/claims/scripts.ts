/**
 * Claim values in Redis: `L|<owner>` while a holder works on the attempt, `O|<owner>|<entry JSON>`
 * once it knows the outcome, `C` once the outcome is published, `R` when a holder gave the attempt
 * back unsent (shutdown, lost channel) so the next one may take it without counting a takeover.
 */

/**
 * The hot path's takes and records of one event-loop turn in one call. KEYS claims; ARGV[1] live
 * ttl ms, ARGV[2] outcome ttl ms, then two values per key: ARGV[1 + 2i] an operation (`T` take
 * respecting an existing claim, `t` take regardless, `O` record an outcome), ARGV[2 + 2i] the value
 * to set. A take answers the existing value it respects, else 0 (the claim was free), 1 (given
 * back) or 2 (someone's, taken regardless); a record answers 1.
 */
export const BATCH = `
local answers = {}
for i, key in ipairs(KEYS) do
  local op, value = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if op == 'O' then
    redis.call('SET', key, value, 'PX', ARGV[2])
    answers[i] = 1
  else
    local v = redis.call('GET', key)
    if v and op == 'T' and v ~= 'R' then
      answers[i] = v
    else
      redis.call('SET', key, value, 'PX', ARGV[1])
      if v == 'R' then answers[i] = 1 elseif v then answers[i] = 2 else answers[i] = 0 end
    end
  end
end
return answers
`;

/** KEYS claims; ARGV[1] ttl ms, ARGV[1 + i] the live value KEYS[i] must still hold. */
export const RENEW = `
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    n = n + 1
  end
end
return n
`;

/** KEYS[1] claim; ARGV[1] live value, ARGV[2] ttl ms: give it back only if it is still ours. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'R', 'PX', ARGV[2])
  return 1
end
return 0
`;

/** KEYS claims; ARGV[1] ttl ms: every one concluded (`C`), one command for a whole batch. */
export const CONCLUDE = `
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 'C', 'PX', ARGV[1])
end
return #KEYS
`;
