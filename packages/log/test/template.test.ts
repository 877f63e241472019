import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileLogFormat, compileTemplate, TemplateError, unknownVariables } from '../src/index.js';

const SEND_LOG_FORMAT =
  '[{$date}] {$result.state}:{$result.result} {$attempt} <{$email.envelope}> <{$email.recipient}> [{$result.from}] [{$result.to}] {$email.tags} {$result.code} {$result.status} {$result.description}';

const email = { envelope: 'a@example.com', recipient: 'b@example.org', tags: ['spring', 'vip'], 'message-id': 'abc123', nested: { x: { y: 7 } } };
const result = { state: 'message', result: 'accepted', from: '192.0.2.1', to: '198.51.100.7', code: 250, status: '2.0.0', description: 'Ok: queued\r\nas 1234' };

test("MailerQ's default send-log template", () => {
  const line = compileTemplate(SEND_LOG_FORMAT).render({ email, result, attempt: 1, date: '2026-12-01 08:00:00' });
  assert.equal(
    line,
    '[2026-12-01 08:00:00] message:accepted 1 <a@example.com> <b@example.org> [192.0.2.1] [198.51.100.7] spring,vip 250 2.0.0 Ok: queued as 1234',
  );
});

test('values: missing → empty, dashed and nested names, objects as JSON, text around braces kept', () => {
  const t = compileTemplate('{$email.message-id}|{$email.nested.x.y}|{$email.nothing.here}|{$result.code.deeper}|{$email.nested}|{not a tag}|{$attempt}');
  assert.equal(t.render({ email, result, attempt: 3 }), 'abc123|7|||{"x":{"y":7}}|{not a tag}|3');
  assert.deepEqual(t.variables, ['email.message-id', 'email.nested.x.y', 'email.nothing.here', 'result.code.deeper', 'email.nested', 'attempt']);
});

test('{if}…{elseif}…{else}…{/if}: truthiness, comparisons, not, and/or, parentheses, nesting', () => {
  const t = compileTemplate(
    '{if $result.code == 250}ok{elseif $result.code >= 500}perm{else}temp{/if}' +
      '{if $email.tags} tagged{/if}{if !$email.dsn} no-dsn{/if}{if not $result.code} no-code{/if}' +
      "{if $result.state == 'message' and ($result.result == \"accepted\" || $attempt > 5)} [{$result.state}{if $attempt != 1} again{/if}]{/if}",
  );
  assert.equal(t.render({ email, result, attempt: 1 }), 'ok tagged no-dsn [message]');
  assert.equal(t.render({ email: { ...email, tags: [] }, result: { ...result, code: 550, result: 'error' }, attempt: 6 }), 'perm no-dsn [message again]');
  assert.equal(t.render({ email: { dsn: { notify: 'NEVER' } }, result: { state: 'connect', code: 421 }, attempt: 2 }), 'temp');
  assert.equal(t.render({ email: {}, result: {}, attempt: 1 }), 'temp no-dsn no-code');
  // numbers compare as numbers when both sides are numeric, text otherwise
  assert.equal(compileTemplate('{if $a < 10}lt{else}ge{/if}').render({ a: '9' }), 'lt');
  assert.equal(compileTemplate('{if $a == $b}same{/if}').render({ a: 'x', b: 'x' }), 'same');
  assert.equal(compileTemplate('{if $a eq "0"}zero{/if}{if $a}t{else}f{/if}').render({ a: 0 }), 'zerof');
});

test('template errors name what is wrong', () => {
  assert.throws(() => compileTemplate('{if $a}x'), new TemplateError('{if} without its {/if}'));
  assert.throws(() => compileTemplate('x{/if}'), new TemplateError('{/if} without its {if}'));
  assert.throws(() => compileTemplate('{else}'), new TemplateError('{else} without its {if}'));
  assert.throws(() => compileTemplate('{if $a}{else}{else}{/if}'), TemplateError);
  assert.throws(() => compileTemplate('{if $a ==}x{/if}'), /cannot read the condition "\$a =="/);
  assert.throws(() => compileTemplate('{if $a # 3}x{/if}'), /cannot read the condition/);
  assert.throws(() => compileLogFormat('send-log-format', '{if $a}', ['a'], { warn: () => undefined }), /^TemplateError: send-log-format: \{if\} without/);
});

test('unknown variables: listed, printed as nothing, warned once naming the key', () => {
  const t = compileTemplate('{$email.recipient} {$emial.recipient} {if $resutl}x{/if}');
  assert.deepEqual(unknownVariables(t, ['email', 'result', 'attempt', 'date']), ['emial.recipient', 'resutl']);
  assert.equal(t.render({ email }), 'b@example.org  ');
  const warnings: string[] = [];
  compileLogFormat('send-log-format', t.source, ['email', 'result', 'attempt', 'date'], { warn: (_o, msg) => warnings.push(msg) });
  assert.deepEqual(warnings, ['send-log-format: unknown variables {$emial.recipient}, {$resutl} print as nothing (known: $email, $result, $attempt, $date)']);
});
