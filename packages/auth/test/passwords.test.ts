import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cramMd5Response,
  cramMd5Verify,
  hashPassword,
  PasswordFormatError,
  storedPasswordKind,
  verifyPassword,
  type PasswordScheme,
} from '../src/index.js';
import { run } from './helpers.js';

test('hashPassword output verifies for every scheme, and only with the right password', async () => {
  const expected: Record<PasswordScheme, RegExp> = {
    bcrypt: /^bcrypt:\$2b\$10\$[./A-Za-z0-9]{53}$/,
    'sha512-crypt': /^\$6\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{86}$/,
    'sha256-crypt': /^\$5\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{43}$/,
    sha256: /^sha256:[0-9a-f]{32}:[0-9a-f]{64}$/,
    sha384: /^sha384:[0-9a-f]{32}:[0-9a-f]{96}$/,
    sha512: /^sha512:[0-9a-f]{32}:[0-9a-f]{128}$/,
  };
  for (const [scheme, shape] of Object.entries(expected) as [PasswordScheme, RegExp][]) {
    const hash = await hashPassword('pä ss:wörd', scheme);
    assert.match(hash, shape, scheme);
    assert.equal(storedPasswordKind(hash), scheme);
    assert.equal(await verifyPassword(hash, 'pä ss:wörd'), true, scheme);
    assert.equal(await verifyPassword(hash, 'pä ss:wörd '), false, scheme);
    assert.notEqual(await hashPassword('pä ss:wörd', scheme), hash, `${scheme} salts are random`);
  }
  assert.match(await hashPassword('x', 'bcrypt', { cost: 4 }), /^bcrypt:\$2b\$04\$/);
});

test('crypt(3) hashes made by the real openssl passwd -6 / -5 verify', async () => {
  for (const flag of ['-6', '-5']) {
    const { stdout } = await run('openssl', ['passwd', flag, 's3cret']);
    const hash = stdout.trim();
    assert.equal(storedPasswordKind(hash), flag === '-6' ? 'sha512-crypt' : 'sha256-crypt');
    assert.equal(await verifyPassword(hash, 's3cret'), true);
    assert.equal(await verifyPassword(hash, 's3cret!'), false);
  }
  // an explicit 8-character salt
  const { stdout } = await run('openssl', ['passwd', '-6', '-salt', 'abcdefgh', 's3cret']);
  assert.equal(await verifyPassword(stdout.trim(), 's3cret'), true);
});

test('the concentrator seed example hashes verify: SHA(password || hex-decoded salt), bcrypt with prefix', async () => {
  const seed: [string, string][] = [
    ['bcrypt:$2a$10$gon.0wTZMTt9R88kf.N4duEEBPV.EcPAj6x4jL7toU/rS073CMeQS', 'password4'],
    ['sha256:62e9ce27f1b752b14fd31aef6a810654:2f8377f47d4bfa18632c89187418e87d1fac662083111c0931a2dd19dcd3c802', 'password5'],
    [
      'sha384:39e698f2f65833d4a967bf444b8e13bb:5d310a4c9a4911ad001ac2864ec27cb41f19415a10e3e857365d9c1378b3b88c08db62524253dac9d65e93eff90cc59a',
      'password6',
    ],
    [
      'sha512:665d90de055076aa2383a79a52aae1e6:d52482f9f92155152e3a1b97c08631661485a70b385f6bbf9d83a31420e7fe8bffb76c2fce59d51d306bb03f84e1cb7eb7986ae8ed0b8df97fa77d91f855530b',
      'password7',
    ],
  ];
  for (const [stored, password] of seed) {
    assert.equal(await verifyPassword(stored, password), true, stored.slice(0, 6));
    assert.equal(await verifyPassword(stored, 'password1'), false);
    // Upper-case hex and line-wrapped hashes (as pasted into the seed) are the same hash.
    const wrapped = `${stored.slice(0, 40)}\n${stored.slice(40, 70)} ${stored.slice(70)}`;
    assert.equal(await verifyPassword(wrapped, password), true);
  }
  assert.equal(await verifyPassword(seed[1]![0].toUpperCase().replace('SHA256', 'sha256'), 'password5'), true);
  // bcrypt without the prefix and the PHP $2y$ spelling are the same algorithm
  assert.equal(await verifyPassword(seed[0]![0].slice('bcrypt:'.length), 'password4'), true);
  assert.equal(await verifyPassword(seed[0]![0].slice('bcrypt:'.length).replace('$2a$', '$2y$'), 'password4'), true);
});

test('clear text compares exactly; malformed and unknown hashes are named and never match', async () => {
  assert.equal(storedPasswordKind('password1'), 'plain');
  assert.equal(await verifyPassword('password1', 'password1'), true);
  assert.equal(await verifyPassword('password1', 'Password1'), false);
  assert.equal(await verifyPassword(' with spaces ', ' with spaces '), true);
  const bad: [string, RegExp][] = [
    ['$1$abc$defghijk', /unsupported crypt hash kind "\$1\$"/],
    ['$y$j9T$abc$def', /unsupported crypt hash kind "\$y\$"/],
    ['$6$salt$tooshort', /malformed sha512-crypt/],
    ['$5$salt$tooshort', /malformed sha256-crypt/],
    ['$2b$10$short', /malformed bcrypt hash/],
    ['bcrypt:nothash', /malformed bcrypt hash after "bcrypt:"/],
    ['sha256:zz:00', /salt must be hex/],
    ['sha256:00:abcd', /must be 64 hex digits/],
    ['sha512:00:' + 'a'.repeat(64), /must be 128 hex digits/],
  ];
  for (const [stored, message] of bad) {
    assert.throws(() => storedPasswordKind(stored), (error: unknown) => error instanceof PasswordFormatError && message.test(error.message));
    assert.equal(await verifyPassword(stored, stored), false);
  }
});

test('CRAM-MD5 matches RFC 2195 example', () => {
  const challenge = '<1896.697170952@postoffice.reston.mci.net>';
  assert.equal(cramMd5Response('tanstaaftanstaaf', challenge), 'b913a602c7eda7a495b4e6e7334d3890');
  assert.equal(cramMd5Verify('tanstaaftanstaaf', challenge, 'b913a602c7eda7a495b4e6e7334d3890'), true);
  assert.equal(cramMd5Verify('tanstaaftanstaaf', challenge, 'B913A602C7EDA7A495B4E6E7334D3890'), true);
  assert.equal(cramMd5Verify('tanstaaftanstaaf', challenge, 'b913a602c7eda7a495b4e6e7334d3891'), false);
  assert.equal(cramMd5Verify('other', challenge, 'b913a602c7eda7a495b4e6e7334d3890'), false);
});
