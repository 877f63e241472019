/**
 * A real DNS server (dnsmasq, Debian package `dnsmasq-base`) serving only the records a test
 * declares, so resolver code runs against genuine UDP answers: NXDOMAIN, NODATA, null MX, PTR.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { freePort } from './ports.js';

export interface DnsServerOptions {
  mx?: Array<{ domain: string; host: string; preference: number }>;
  /** IPv4 or IPv6: becomes A or AAAA plus the matching PTR. Repeat a name for several addresses. */
  a?: Array<{ name: string; ip: string }>;
  /** Extra PTR answers: `ip` reverses to `name`. */
  ptr?: Array<{ ip: string; name: string }>;
  /** Names that exist with nothing but TXT, so MX/A/AAAA queries get NODATA. */
  txt?: Array<{ name: string; text: string }>;
  /** Domains publishing the RFC 7505 null MX (`0 .`). */
  nullMx?: string[];
  /**
   * Zones answered authoritatively: any name under them without data gets NXDOMAIN (no upstream is
   * ever asked). Default `['test']`; names outside every zone get REFUSED.
   */
  zones?: string[];
  /** TTL of every record, seconds. Default 60. */
  ttl?: number;
  /** Zones whose queries are passed on to another server (`host#port`), e.g. one that never answers. */
  forward?: Array<{ zone: string; server: string }>;
}

export interface DnsServer {
  port: number;
  /** For `dns-servers` / `Resolver.setServers`. */
  server: string;
  stop(): Promise<void>;
}

function findDnsmasq(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = join(dir, 'dnsmasq');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // keep looking
    }
  }
  throw new Error('dnsmasq not found: install the Debian package dnsmasq-base (apt-get install -y dnsmasq-base)');
}

/** `1.2.3.4` → `4.3.2.1.in-addr.arpa`; IPv6 is left to host-record, which makes its own PTR. */
function reverseName(ip: string): string {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`ptr helper takes IPv4 only, got ${ip}`);
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

function configText(options: DnsServerOptions, port: number): string {
  const ttl = options.ttl ?? 60;
  const lines = [
    'no-resolv',
    'no-hosts',
    'no-poll',
    'bind-interfaces',
    'listen-address=127.0.0.1',
    `port=${port}`,
    `local-ttl=${ttl}`,
    `user=${userInfo().username}`,
    // Answers must reflect the records, not a cache of what an earlier test saw.
    'cache-size=0',
  ];
  for (const zone of options.zones ?? ['test']) lines.push(`local=/${zone}/`);
  for (const { zone, server } of options.forward ?? []) lines.push(`server=/${zone}/${server}`);
  for (const { domain, host, preference } of options.mx ?? []) lines.push(`mx-host=${domain},${host},${preference}`);
  for (const { name, ip } of options.a ?? []) lines.push(`host-record=${name},${ip},${ttl}`);
  for (const { ip, name } of options.ptr ?? []) lines.push(`ptr-record=${reverseName(ip)},${name}`);
  for (const { name, text } of options.txt ?? []) lines.push(`txt-record=${name},"${text.replace(/"/g, '')}"`);
  // Type 15 with RDATA preference 0 + the root name: RFC 7505's "0 .".
  for (const domain of options.nullMx ?? []) lines.push(`dns-rr=${domain},15,000000`);
  return `${lines.join('\n')}\n`;
}

/** Any DNS answer at all, even NXDOMAIN or REFUSED, means the server is up. */
async function answers(server: string): Promise<boolean> {
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([server]);
  try {
    await resolver.resolve4('probe.invalid');
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code !== 'ECONNREFUSED' && code !== 'ETIMEOUT';
  }
}

async function startOnce(binary: string, options: DnsServerOptions, dir: string): Promise<DnsServer | undefined> {
  // a port free for TCP now; dnsmasq binds UDP and TCP on it, and a lost race just retries
  const port = await freePort();
  const file = join(dir, 'dnsmasq.conf');
  writeFileSync(file, configText(options, port));
  const child: ChildProcess = spawn(binary, ['--keep-in-foreground', `--conf-file=${file}`, '--pid-file=', '--log-facility=-'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const server = `127.0.0.1:${port}`;
  const deadline = Date.now() + 5000;
  while (!exited && Date.now() < deadline) {
    if (await answers(server)) {
      return {
        port,
        server,
        async stop() {
          if (!exited) {
            child.kill('SIGTERM');
            await exit;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!exited) {
    child.kill('SIGKILL');
    await exit;
    throw new Error(`dnsmasq did not answer on ${server}: ${stderr}`);
  }
  if (/address already in use/i.test(stderr)) return undefined;
  throw new Error(`dnsmasq exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
}

export async function startDnsServer(options: DnsServerOptions = {}): Promise<DnsServer> {
  const binary = findDnsmasq();
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-dns-'));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const started = await startOnce(binary, options, dir);
      if (started !== undefined) return started;
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('dnsmasq: no free port after 5 attempts');
}
