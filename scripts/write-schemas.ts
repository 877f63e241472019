/**
 * Writes schemas/*.schema.json from the TypeBox schemas in packages/envelope (`npm run schemas`).
 * Run it after changing a schema; packages/envelope/test/schemas.test.ts fails until you do.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas, schemaFileText } from '../packages/envelope/src/json-schema.js';

const dir = join(import.meta.dirname, '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(join(dir, name), schemaFileText(schema));
  console.log(`wrote schemas/${name}`);
}
