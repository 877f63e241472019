/**
 * Claim values in Redis: `L|<owner>` while a holder works on the attempt, `O|<owner>|<entry JSON>`
 * once it knows the outcome, `C` once the outcome is published, `R` when a holder gave the attempt
 * back unsent (shutdown, lost channel) so the next one may take it without counting a takeover.
 */

/** KEYS[1] claim; ARGV[1] live value, ARGV[2] ttl ms, ARGV[3] '1' = respect an existing claim. */
export const TAKE = `
local v = redis.call('GET', KEYS[1])
if v and ARGV[3] == '1' and v ~= 'R' then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if v == 'R' then return 1 end
if v then return 2 end
return 0
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
