import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_EFFECT, type ConfigWarning } from '../src/index.js';
import { loadText } from './helpers.js';

// Config lines exactly as shown on MailerQ's "built-in SMTP server" page (seed 002), block by block.
// The page's last example ends with a prose note, `smtp-extract: true (default: true)`; only the
// setting itself is used here.
const LISTEN = `smtp-ip:            1.2.3.4
smtp-port:          25,2525,1024-1026
smtp-secure-port:   2526
`;
const SOURCE_IPS = `smtp-default-ips:       1.2.3.4;4.5.6.7
smtp-unmappable-ips:    1.2.3.28/32;1.2.3.5/32
smtp-mappable-ips:      1.2.3.0/24;4.5.6.0/24
`;
const TLS = `smtp-certificate:   /etc/mailerq/your.domain.com.crt
smtp-key:           /etc/mailerq/your.domain.com.key
smtp-ciphers:       !aNULL:!eNULL:!LOW:!SSLv2:!EXPORT:!EXPORT56:FIPS:MEDIUM:HIGH:@STRENGTH
`;
const ACCESS = `smtp-range:         192.168.0.0/16
`;
const AUTH = `smtp-auth:          hardcoded://username:password,username2,password2
smtp-auth:          ldap://example.com:389/base_dn
smtp-auth:          radius://identifier:secret@example.com:1812
smtp-auth:          users://user1,mailerq,user2,client*
smtp-auth:          http://example.com:80/some_endpoint
smtp-auth:          file:///users.txt
smtp-auth:          exec:///path/to/file
`;
const CHECKS = `smtp-check:         spf,dkim,dmarc,spam
smtp-auth-results:  local,nonlocal
`;
const SPAMD = `spamassassin-host:  localhost
spamassassin-port:  783
`;
const PROXY = `smtp-proxy:     192.168.0.0/16
`;
const VALIDATE = `smtp-validate-address:  strict
`;
const CONNECTIONS = `smtp-connections:       100
smtp-connections-in:    50
smtp-connections-out:   75
`;
const OTHER = `smtp-maxsize:           100MB
smtp-threads:           1
smtp-timeout:           300
smtp-protection:        true
smtp-hostname:          smtp.example.com
`;
const EXTRACT = `smtp-extract:       true
`;

const BLOCKS = [LISTEN, SOURCE_IPS, TLS, ACCESS, AUTH, CHECKS, SPAMD, PROXY, VALIDATE, CONNECTIONS, OTHER, EXTRACT];

/** Keys of the page that mtaq accepts but does not act on yet: they load, with a "no effect" warning. */
const NOT_YET: string[] = [];

/** Warnings other than "has no effect", and the keys those name. */
function sortWarnings(warnings: readonly ConfigWarning[]): { other: string[]; noEffect: string[] } {
  const noEffect = warnings.filter((w) => w.message.endsWith(`: ${NO_EFFECT}`));
  return { other: warnings.filter((w) => !noEffect.includes(w)).map((w) => w.message), noEffect: noEffect.map((w) => w.key ?? '') };
}

test('seed 002: each example block of the SMTP page is accepted on its own', () => {
  for (const block of BLOCKS) {
    // A secure port needs a certificate and authentication needs STARTTLS, so those two blocks are
    // only complete (error- and warning-free) together with the TLS block.
    const text = block === LISTEN || block === AUTH ? block + TLS : block;
    const { other, noEffect } = sortWarnings(loadText(text).warnings);
    assert.deepEqual(other, [], block);
    assert.deepEqual(noEffect, NOT_YET.filter((key) => block.includes(`${key}:`)), block);
  }
});

test('seed 002: all example blocks together form a valid config', () => {
  const { config, warnings } = loadText(BLOCKS.join('\n'));
  const { other, noEffect } = sortWarnings(warnings);
  assert.deepEqual(other, []);
  assert.deepEqual(noEffect, NOT_YET);
  assert.deepEqual(config['smtp-ip'], ['1.2.3.4']);
  assert.deepEqual(config['smtp-port'], [25, 2525, 1024, 1025, 1026]);
  assert.deepEqual(config['smtp-secure-port'], [2526]);
  assert.deepEqual(config['smtp-default-ips'], ['1.2.3.4', '4.5.6.7']);
  const mappable = (ip: string): boolean => config['smtp-mappable-ips'].contains(ip) && !config['smtp-unmappable-ips'].contains(ip);
  assert.equal(mappable('1.2.3.100'), true);
  assert.equal(mappable('1.2.3.28'), false);
  assert.equal(config['smtp-key'], '/etc/mailerq/your.domain.com.key');
  assert.equal(config['smtp-ciphers'], '!aNULL:!eNULL:!LOW:!SSLv2:!EXPORT:!EXPORT56:FIPS:MEDIUM:HIGH:@STRENGTH');
  assert.equal(config['smtp-auth'], 'exec:///path/to/file');
  assert.deepEqual(config['smtp-check'], ['spf', 'dkim', 'dmarc', 'spam']);
  assert.deepEqual(config['smtp-auth-results'], ['local', 'nonlocal']);
  assert.equal(config['spamassassin-port'], 783);
  assert.equal(config['smtp-proxy'].contains('192.168.1.1'), true);
  assert.equal(config['smtp-connections'], 100);
  assert.equal(config['smtp-connections-in'], 50);
  assert.equal(config['smtp-connections-out'], 75);
  assert.equal(config['smtp-maxsize'], 104857600);
  assert.equal(config['smtp-timeout'], 300);
  assert.equal(config['smtp-protection'], true);
  assert.equal(config['smtp-hostname'], 'smtp.example.com');
  assert.equal(config['smtp-extract'], true);
});
