import type { Config } from './schema.js';

/**
 * What an SMTP listener reachable from other hosts lacks to survive a connection flood: with no cap
 * on connections, one client can open them until the process runs out of descriptors. Said by
 * `mtaq config check` and at ingress start-up (not a load warning: a delivery-only process listens
 * on nothing, and the built-in defaults must stay silent for every other command).
 */
export function exposureWarnings(config: Pick<Config, 'smtp-ip' | 'smtp-connections-in' | 'smtp-connections-per-ip'>): string[] {
  const listens = config['smtp-ip'];
  const exposed = listens.length === 0 || listens.some((ip) => !/^(?:127\.|::1$)/.test(ip));
  const missing = (['smtp-connections-in', 'smtp-connections-per-ip'] as const).filter((key) => config[key] === 0);
  if (!exposed || missing.length === 0) return [];
  const where = listens.length === 0 ? 'every address' : listens.join(', ');
  return [`smtp-ip: listening on ${where} with no ${missing.join(' and ')}: one client can open connections until the process runs out of descriptors (etc/mtaq.conf shows caps)`];
}
