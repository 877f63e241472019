import type { Redis } from 'ioredis';

/** A budget key and its limit (a finite number of slots). */
export interface Budget {
  readonly key: string;
  readonly limit: number;
}

// Expiry scores use the Redis clock, so nodes whose clocks disagree still agree on when a lease is dead.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// The key itself expires with its last lease, so budgets of destinations no longer used vanish.
const EXPIRE_WITH_LAST = `
local function expireWithLast(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, math.ceil(tonumber(last[2]))) end
end
`;

/**
 * KEYS = budget ZSETs, ARGV = lease id, ttl ms, one limit per key. All keys or none: a slot in the
 * per-source budget is useless without one in the destination-wide budget. The same id may be
 * retried after a lost reply without taking a second slot.
 */
const ACQUIRE = `${NOW}${EXPIRE_WITH_LAST}
local id = ARGV[1]
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, id) and redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, id)
  expireWithLast(key)
end
return 1
`;

/**
 * KEYS[i] holds lease ARGV[1 + i]; ARGV[1] = ttl ms. A lease that is missing (it expired during a
 * stall, or was taken while Redis was down) is added back even over the limit: its connection is
 * open, and counting it is what keeps the other nodes from opening more. Returns how many were missing.
 */
const RENEW = `${NOW}${EXPIRE_WITH_LAST}
local ttl = tonumber(ARGV[1])
local missing = 0
for i, key in ipairs(KEYS) do
  local id = ARGV[1 + i]
  if not redis.call('ZSCORE', key, id) then missing = missing + 1 end
  redis.call('ZADD', key, now + ttl, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  expireWithLast(key)
end
return missing
`;

const RELEASE = `
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 1
`;

type Reply = Promise<number>;

interface LeaseCommands {
  mtaqLeaseAcquire(numKeys: number, ...args: (string | number)[]): Reply;
  mtaqLeaseRenew(numKeys: number, ...args: (string | number)[]): Reply;
  mtaqLeaseRelease(numKeys: number, ...args: (string | number)[]): Reply;
}

/** Connection slots shared by every process: one ZSET per budget, member = lease id, score = expiry (ms). */
export class RedisLeases {
  private readonly commands: LeaseCommands;

  constructor(redis: Redis) {
    redis.defineCommand('mtaqLeaseAcquire', { lua: ACQUIRE });
    redis.defineCommand('mtaqLeaseRenew', { lua: RENEW });
    redis.defineCommand('mtaqLeaseRelease', { lua: RELEASE });
    this.commands = redis as unknown as LeaseCommands;
  }

  async acquire(budgets: readonly Budget[], id: string, ttlMs: number): Promise<boolean> {
    const keys = budgets.map((b) => b.key);
    return (await this.commands.mtaqLeaseAcquire(keys.length, ...keys, id, ttlMs, ...budgets.map((b) => b.limit))) === 1;
  }

  /** Sent synchronously on call, so a release issued after this cannot be overtaken by it. */
  renew(held: readonly { readonly key: string; readonly id: string }[], ttlMs: number): Reply {
    return this.commands.mtaqLeaseRenew(held.length, ...held.map((h) => h.key), ttlMs, ...held.map((h) => h.id));
  }

  async release(keys: readonly string[], id: string): Promise<void> {
    await this.commands.mtaqLeaseRelease(keys.length, ...keys, id);
  }
}
