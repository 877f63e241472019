/**
 * Objects that keep properties they do not declare (§4: unknown properties are preserved into every
 * republished copy and result). The JSON Schema says `additionalProperties: true`; the TypeScript
 * type gets an index signature, so `doc['my-ref']` type-checks the way the JSON allows it.
 */

import { Type, type ObjectOptions, type Static, type TObject, type TProperties } from '@sinclair/typebox';

export interface TOpen<T extends TProperties> extends TObject<T> {
  static: Static<TObject<T>> & { [key: string]: unknown };
}

export function Open<T extends TProperties>(properties: T, options: ObjectOptions = {}): TOpen<T> {
  return Type.Object(properties, { ...options, additionalProperties: true }) as TOpen<T>;
}
