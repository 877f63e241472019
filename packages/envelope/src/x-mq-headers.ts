/**
 * `x-mq-*` header extraction (reference §5). Runs on every received message, so it works on the
 * Buffer, looks at the header block only, and hands back the very same Buffer when there is nothing
 * to extract. A header whose value does not parse is still removed but only reported: a bad header
 * must never cost the mail.
 */

import { isIP } from 'node:net';
import { decodeHeaderValue } from './header-words.js';
import { firstAddress } from './address.js';
import { fieldValue, scanHeaders } from './header-block.js';
import { isTime } from './time.js';
import type { Dsn, NextAttempt, Queues, Security, Smarthost } from './types.js';

/** Message properties derived from `x-mq-*` headers; any other `x-mq-<name>` lands as a string. */
export interface MqHeaderProperties {
  envelope?: string;
  ips?: string[];
  pool?: string;
  tags?: string[];
  nextattempt?: NextAttempt;
  maxdelivertime?: string;
  maxattempts?: number;
  retries?: number[];
  inlinecss?: boolean;
  keepmime?: boolean;
  force?: boolean;
  priority?: number;
  security?: Security;
  queues?: Queues;
  smarthost?: Smarthost;
  dsn?: Dsn;
  [key: string]: unknown;
}

export interface MqExtraction {
  /** The message without its `x-mq-*` fields; the input Buffer itself when it had none. */
  mime: Buffer;
  properties: MqHeaderProperties;
  /** One line per header that was removed but could not be used. */
  warnings: string[];
}

type Props = Record<string, unknown>;
/** Converts a header value; `undefined` means it does not parse. */
type Convert = (value: string) => unknown;
/** Stores a converted value; returns a warning reason when the header cannot be used. */
type Apply = (value: string, props: Props) => string | undefined;

const X = 0x78;
const M = 0x6d;
const Q = 0x71;
const DASH = 0x2d;
const LOWER = 0x20;

function isMqField(buf: Buffer, start: number, colon: number): boolean {
  return (
    colon - start >= 5 &&
    ((buf[start] as number) | LOWER) === X &&
    buf[start + 1] === DASH &&
    ((buf[start + 2] as number) | LOWER) === M &&
    ((buf[start + 3] as number) | LOWER) === Q &&
    buf[start + 4] === DASH
  );
}

const DIGITS = /^\d+$/;
const NOTIFY = /^(?:NEVER|(?:SUCCESS|FAILURE|DELAY)(?:,(?:SUCCESS|FAILURE|DELAY))*)$/;
const SECURITY = new Set(['optional', 'opportunistic', 'required', 'verified']);

const toInteger =
  (max = Number.MAX_SAFE_INTEGER, min = 0): Convert =>
  (v) => {
    if (!DIGITS.test(v)) return undefined;
    const n = Number(v);
    return n >= min && n <= max ? n : undefined;
  };
const toText: Convert = (v) => (v === '' ? undefined : v);
const toTime: Convert = (v) => (isTime(v) ? v : undefined);
const toBoolean: Convert = (v) => /^(?:1|true|yes)$/i.test(v);
const toRetries: Convert = (v) => {
  const parts = v.split(',').map((s) => s.trim());
  return parts.every((s) => DIGITS.test(s)) ? parts.map(Number) : undefined;
};
/** `<>` is an explicit null sender; anything else must hold an address. */
const toEnvelope: Convert = (v) => (v === '<>' ? '' : firstAddress(v));
const toNotify: Convert = (v) => {
  const up = v.toUpperCase().replace(/\s+/g, '');
  return NOTIFY.test(up) ? up : undefined;
};
const toRet: Convert = (v) => {
  const up = v.toUpperCase();
  return up === 'FULL' || up === 'HDRS' ? up : undefined;
};

/** A property that takes the first usable header; later repeats are reported. */
function single(key: string, convert: Convert, expected: string): Apply {
  return (value, props) => {
    if (props[key] !== undefined) return 'repeated; the first value is kept';
    const v = convert(value);
    if (v === undefined) return `expected ${expected}`;
    props[key] = v;
    return undefined;
  };
}

/** Same as {@link single}, one level down (`smarthost.port`, `dsn.ret`, …). */
function nested(parent: string, key: string, convert: Convert, expected: string): Apply {
  const inner = single(key, convert, expected);
  return (value, props) => {
    const existing = props[parent] as Props | undefined;
    const target = existing ?? {};
    const warning = inner(value, target);
    if (existing === undefined && warning === undefined) props[parent] = target;
    return warning;
  };
}

function list(key: string, convert: (value: string) => string[] | string): Apply {
  return (value, props) => {
    const items = convert(value);
    if (typeof items === 'string') return items;
    const current = props[key] as string[] | undefined;
    if (current === undefined) props[key] = items;
    else current.push(...items);
    return undefined;
  };
}

const HANDLERS: Record<string, Apply> = {
  envelope: single('envelope', toEnvelope, 'an e-mail address'),
  ip: list('ips', (v) => {
    // [design] commas also split, so one header may carry several source IPs.
    const ips = v.split(',').map((s) => s.trim());
    const bad = ips.find((ip) => isIP(ip) === 0);
    return bad === undefined ? ips : `${JSON.stringify(bad)} is not an IP address`;
  }),
  pool: single('pool', toText, 'a pool name'),
  tag: list('tags', (v) => (v === '' ? 'empty tag' : [v])),
  delayed: single('nextattempt', (v) => (isTime(v) ? { time: v } : undefined), 'a UTC time "YYYY-MM-DD HH:MM:SS"'),
  maxdelivertime: single('maxdelivertime', toTime, 'a UTC time "YYYY-MM-DD HH:MM:SS"'),
  maxattempts: single('maxattempts', toInteger(), 'a non-negative integer'),
  retries: single('retries', toRetries, 'a comma list of seconds'),
  inlinecss: single('inlinecss', toBoolean, 'a boolean'),
  keepmime: single('keepmime', toBoolean, 'a boolean'),
  // [design] typed because a plain string would make the JSON itself invalid.
  force: single('force', toBoolean, 'a boolean'),
  priority: single('priority', toInteger(255), 'an integer 0-255'),
  security: single('security', (v) => (SECURITY.has(v.toLowerCase()) ? v.toLowerCase() : undefined), [...SECURITY].join(', ')),
  'results-queue': nested('queues', 'results', toText, 'a queue name'),
  'success-queue': nested('queues', 'success', toText, 'a queue name'),
  'failure-queue': nested('queues', 'failure', toText, 'a queue name'),
  'retry-queue': nested('queues', 'retry', toText, 'a queue name'),
  'smarthost-hostname': nested('smarthost', 'hostname', toText, 'a host name'),
  // 3.x/4.0 spelling.
  'smarthost-name': nested('smarthost', 'hostname', toText, 'a host name'),
  'smarthost-port': nested('smarthost', 'port', toInteger(65535, 1), 'a port 1-65535'),
  'smarthost-username': nested('smarthost', 'username', (v) => v, 'a user name'),
  'smarthost-password': nested('smarthost', 'password', (v) => v, 'a password'),
  'dsn-notify': nested('dsn', 'notify', toNotify, 'NEVER or a comma list of SUCCESS, FAILURE, DELAY'),
  'dsn-ret': nested('dsn', 'ret', toRet, 'FULL or HDRS'),
  'dsn-orcpt': nested('dsn', 'orcpt', toText, 'an original recipient'),
  'dsn-envid': nested('dsn', 'envid', toText, 'an envelope id'),
};

/**
 * Names the catch-all rule must not write: structured or routing properties that a string would
 * either corrupt (failing the whole JSON later) or hijack (`recipient`, `mime`).
 */
const RESERVED = new Set([
  'recipient', 'mime', 'key', 'data', 'ips', 'tags', 'nextattempt', 'dkim', 'dsn', 'queues',
  'smarthost', 'headers', 'results', 'extracted', 'invalid', 'message-id', 'received', 'hostname',
  'connection', 'checks', 'spool', 'cli', 'http', '__proto__',
]);

const QUEUE_KINDS = ['results', 'success', 'failure', 'retry'] as const;

function applyHeader(name: string, value: string, props: Props): string | undefined {
  const handler = HANDLERS[name];
  if (handler !== undefined) return handler(value, props);
  if (name === '') return 'no property name after x-mq-';
  if (RESERVED.has(name)) return `${name} cannot be set from a header`;
  if (props[name] !== undefined) return 'repeated; the first value is kept';
  props[name] = value;
  return undefined;
}

/** Removes the `x-mq-*` fields from the header block and converts them into JSON properties. */
export function extractMqHeaders(mime: Buffer): MqExtraction {
  let ranges: number[] | undefined;
  scanHeaders(mime, (start, colon, end) => {
    if (isMqField(mime, start, colon)) (ranges ??= []).push(start, colon, end);
  });
  const properties: Props = {};
  const warnings: string[] = [];
  if (ranges === undefined) return { mime, properties, warnings };

  const kept: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < ranges.length; i += 3) {
    const start = ranges[i] as number;
    const colon = ranges[i + 1] as number;
    const end = ranges[i + 2] as number;
    if (start > from) kept.push(mime.subarray(from, start));
    from = end;
    const name = mime.toString('latin1', start + 5, colon).trimEnd().toLowerCase();
    const value = decodeHeaderValue(fieldValue(mime, colon, end)).trim();
    const warning = applyHeader(name, value, properties);
    if (warning !== undefined) warnings.push(`x-mq-${name}: ${JSON.stringify(truncate(value))}: ${warning}`);
  }
  if (from < mime.length) kept.push(mime.subarray(from));

  finishGroups(properties, warnings);
  return { mime: Buffer.concat(kept), properties, warnings };
}

/** Cross-header rules that can only be applied once every header has been seen. */
function finishGroups(props: Props, warnings: string[]): void {
  const queues = props.queues as Props | undefined;
  // I6: a header naming any result queue switches off the configured ones it does not name.
  if (queues !== undefined) for (const kind of QUEUE_KINDS) queues[kind] ??= null;
  const smarthost = props.smarthost as Props | undefined;
  if (smarthost !== undefined && smarthost.hostname === undefined) {
    delete props.smarthost;
    warnings.push('x-mq-smarthost-*: ignored without x-mq-smarthost-hostname');
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
