import type { Redis } from 'ioredis';
import type { Budget } from './redis-leases.js';

export const WINDOW_MS = 60_000;

/** Whether a message may go now; if not, how long until the current minute ends. */
export interface RateAnswer {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
}

/**
 * KEYS = one HASH per budget {w = minute number, n = messages in it}; ARGV = one limit per key.
 * A fixed window on the Redis clock, kept in one declared key per budget rather than a key per
 * minute, so the script only touches the keys it is given. All budgets are charged or none.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = math.floor(now / ${WINDOW_MS})
local left = ${WINDOW_MS} - (now % ${WINDOW_MS})
local counts = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'w', 'n')
  local n = 0
  if tonumber(state[1]) == window then n = tonumber(state[2]) or 0 end
  if n >= tonumber(ARGV[i]) then return {0, left} end
  counts[i] = n
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'w', window, 'n', counts[i] + 1)
  redis.call('PEXPIRE', key, left + 1000)
end
return {1, left}
`;

interface RateCommands {
  mtaqRateTake(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
}

/** Messages-per-minute budgets shared by every process. */
export class RedisRates {
  private readonly commands: RateCommands;

  constructor(redis: Redis) {
    redis.defineCommand('mtaqRateTake', { lua: TAKE });
    this.commands = redis as unknown as RateCommands;
  }

  async take(budgets: readonly Budget[]): Promise<RateAnswer> {
    const [allowed, left] = await this.commands.mtaqRateTake(budgets.length, ...budgets.map((b) => b.key), ...budgets.map((b) => b.limit));
    return { allowed: allowed === 1, retryAfterMs: allowed === 1 ? 0 : left };
  }
}
