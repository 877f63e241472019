import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { jsonSchemas, parseIncoming, parseOutgoing, parseResultMessage, schemaFileText } from '../src/index.js';

const SCHEMAS_DIR = join(import.meta.dirname, '..', '..', '..', 'schemas');
const committed = (name: string): string => readFileSync(join(SCHEMAS_DIR, name), 'utf8');

// Copied from the reference, §3 and §4.
const INCOMING_EXAMPLE = {
  'message-id': 'k3x9q2ab',
  received: '2024-05-01 10:00:00',
  hostname: 'mx1.example.net',
  envelope: 'alice@example.com',
  recipient: 'bob@example.org',
  mime: 'From: …',
  connection: { 'local-ip': '10.0.0.5', 'local-port': 25, 'remote-ip': '192.0.2.7', 'remote-port': 53122, secure: true, user: 'alice' },
  ips: ['10.0.0.5'],
  tags: ['newsletter'],
};

const OUTGOING_EXAMPLE = {
  envelope: 'bounce@example.com',
  recipient: 'info@example.org',
  mime: 'From: …\r\n\r\nHi',
  pool: 'bulk',
  tags: ['cust-42'],
  maxdelivertime: '2024-05-02 10:00:00',
  retries: [300, 900],
  dsn: { notify: 'FAILURE', ret: 'HDRS', envid: 'abc' },
  queues: { success: null, failure: 'f42' },
  headers: { remove: ['bcc'], replace: { 'x-mailer': 'ours' } },
  'my-ref': 'order-991',
};

// A failure as delivery publishes it (§6): mime stripped, one entry, extracted summary.
const RESULT_EXAMPLE = {
  envelope: 'bounce@example.com',
  recipient: 'info@example.org',
  'my-ref': 'order-991',
  results: [
    { state: 'rcptto', result: 'error', time: '2024-05-01 10:00:05', code: 550, status: '5.1.1', description: 'no such user', from: '10.0.0.5', to: '198.51.100.3', mta: 'mx.example.org' },
  ],
  extracted: { from: 'bounce@example.com', to: ['info@example.org'], subject: 'Hi', headers: {}, envelope: { local: 'bounce', domain: 'example.com' }, recipient: { local: 'info', domain: 'example.org' } },
};

test('the committed schemas/*.schema.json are what the TypeBox schemas generate (run `npm run schemas`)', () => {
  for (const [name, schema] of Object.entries(jsonSchemas())) {
    assert.equal(committed(name), schemaFileText(schema), `schemas/${name} is stale: run npm run schemas`);
  }
});

test('each file is a draft 2020-12 document with an $id that keeps unknown properties', () => {
  for (const name of Object.keys(jsonSchemas())) {
    const schema = JSON.parse(committed(name)) as Record<string, unknown>;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.match(String(schema.$id), /^urn:mtaq:schema:/);
    assert.equal(schema.additionalProperties, true);
  }
});

test('the reference examples pass the compiled validators', () => {
  assert.ok(parseIncoming(structuredClone(INCOMING_EXAMPLE)));
  assert.ok(parseOutgoing(structuredClone(INCOMING_EXAMPLE)));
  assert.ok(parseOutgoing(structuredClone(OUTGOING_EXAMPLE)));
  assert.ok(parseResultMessage(structuredClone(RESULT_EXAMPLE)));
});

// An independent 2020-12 implementation (Debian's python3-jsonschema, installed by
// scripts/test-env.sh) reads the committed files as another language's producer would.
const PYTHON = '/usr/bin/python3';
const CHECK = `
import json, sys
from jsonschema import Draft202012Validator
cases = json.load(sys.stdin)
out = []
for case in cases:
    schema = json.load(open(case["file"]))
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(case["doc"]), key=lambda e: list(e.path))
    out.append([".".join(str(p) for p in e.path) for e in errors])
print(json.dumps(out))
`;
const hasJsonschema = spawnSync(PYTHON, ['-c', 'import jsonschema'], { stdio: 'ignore' }).status === 0;

function pythonErrors(cases: { file: string; doc: unknown }[]): string[][] {
  const input = JSON.stringify(cases.map((c) => ({ file: join(SCHEMAS_DIR, c.file), doc: c.doc })));
  const run = spawnSync(PYTHON, ['-c', CHECK], { input, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as string[][];
}

test('python3-jsonschema accepts the examples and refuses what mtaq refuses', { skip: !hasJsonschema && `no jsonschema module for ${PYTHON}` }, () => {
  const results = pythonErrors([
    { file: 'incoming.schema.json', doc: INCOMING_EXAMPLE },
    { file: 'outgoing.schema.json', doc: INCOMING_EXAMPLE },
    { file: 'outgoing.schema.json', doc: OUTGOING_EXAMPLE },
    { file: 'result.schema.json', doc: RESULT_EXAMPLE },
    { file: 'outgoing.schema.json', doc: { ...OUTGOING_EXAMPLE, recipient: 'a@b.test\r\nRCPT TO:<c@d.test>' } },
    { file: 'outgoing.schema.json', doc: { recipient: 'a@b.test' } },
    { file: 'outgoing.schema.json', doc: { ...OUTGOING_EXAMPLE, queues: { failure: 7 } } },
    { file: 'incoming.schema.json', doc: { ...INCOMING_EXAMPLE, connection: undefined } },
    { file: 'result.schema.json', doc: { ...RESULT_EXAMPLE, results: [{ state: 'sending', result: 'error', time: '2024-05-01 10:00:05' }] } },
  ]);
  assert.deepEqual(results.slice(0, 4), [[], [], [], []]);
  assert.deepEqual(results[4], ['recipient']);
  assert.deepEqual(results[5], ['']); // neither mime nor key: the document as a whole
  assert.deepEqual(results[6], ['queues.failure']);
  assert.deepEqual(results[7], ['']); // no connection, spool, cli or http
  assert.deepEqual(results[8], ['results.0.state']);
});
