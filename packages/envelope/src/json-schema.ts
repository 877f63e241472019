/**
 * The schemas as standalone JSON Schema (draft 2020-12) documents, for producers and consumers in
 * other languages. scripts/write-schemas.ts writes them to schemas/ at the repository root, and a
 * test fails when the committed files differ from what this returns.
 */

import type { TSchema } from '@sinclair/typebox';
import { IncomingSchema } from './schema/incoming.js';
import { OutgoingSchema } from './schema/outgoing.js';
import { ResultMessageSchema } from './schema/result.js';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

// Formats other validators do not know are annotations to them (2020-12 default), so the patterns
// beside them still hold; mtaq checks the formats too.
const COMMENT =
  'Formats: mq-time is a calendar-valid UTC time "YYYY-MM-DD HH:MM:SS" (the pattern checks only the shape); ' +
  'mq-ip is an IPv4 or IPv6 address. Unknown properties are kept (additionalProperties: true). See docs/json.md.';

function document(name: string, schema: TSchema): Record<string, unknown> {
  // JSON round trip: drops TypeBox's symbol-keyed bookkeeping ([Kind], [OptionalKind]).
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return { $schema: DIALECT, $id: `urn:mtaq:schema:${name}`, $comment: COMMENT, ...plain };
}

/** File name (in schemas/) → JSON Schema document. */
export function jsonSchemas(): Record<string, Record<string, unknown>> {
  return {
    'incoming.schema.json': document('incoming', IncomingSchema),
    'outgoing.schema.json': document('outgoing', OutgoingSchema),
    'result.schema.json': document('result', ResultMessageSchema),
  };
}

/** How the files are written: two-space indentation and a final newline. */
export function schemaFileText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
