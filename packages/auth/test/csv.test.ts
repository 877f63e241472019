import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvSyntaxError, parseCsv } from '../src/index.js';

test('RFC 4180: quotes, doubled quotes, commas and line breaks inside quotes, CRLF, BOM', () => {
  const text = '\uFEFFname,user,password\r\n"User D\n(bcrypt)","user4","a,b"\r\n"say ""hi""",x,\n\n"",""\nlast,"multi\r\nline"';
  assert.deepEqual(parseCsv(text), [
    { fields: ['name', 'user', 'password'], line: 1 },
    { fields: ['User D\n(bcrypt)', 'user4', 'a,b'], line: 2 },
    { fields: ['say "hi"', 'x', ''], line: 4 },
    { fields: ['', ''], line: 6 },
    { fields: ['last', 'multi\r\nline'], line: 7 },
  ]);
  assert.deepEqual(parseCsv(''), []);
  assert.deepEqual(parseCsv('a'), [{ fields: ['a'], line: 1 }]);
  assert.deepEqual(parseCsv('a,b\n'), [{ fields: ['a', 'b'], line: 1 }]);
  assert.deepEqual(parseCsv('""'), [{ fields: [''], line: 1 }]);
  assert.deepEqual(parseCsv(' spaced , kept '), [{ fields: [' spaced ', ' kept '], line: 1 }]);
});

test('CSV syntax errors name the line', () => {
  const cases: [string, number, RegExp][] = [
    ['ok\nab"c', 2, /quote inside an unquoted field/],
    ['ok\n"ab"c', 2, /text after a closing quote/],
    ['ok\n"a\nb\nc', 2, /quoted field never closed/],
    ['"a\nb" x', 2, /text after a closing quote/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(() => parseCsv(text), (error: unknown) => error instanceof CsvSyntaxError && error.line === line && message.test(error.message));
  }
});
