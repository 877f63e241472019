/**
 * The runtime validators, compiled from the same schemas the types and schemas/*.schema.json come
 * from. Each checks a document in place and returns the same object, so unknown properties survive
 * untouched into every republished copy; the few normalisations (see normalise.ts) are written back
 * into it. A refusal is one EnvelopeError naming the first property at fault.
 */

import { EnvelopeError } from '@mtaq/errors';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { firstProblem, isPlainObject, missingAlternative, type Problem } from './explain.js';
import { normalise } from './normalise.js';
import { IncomingSchema } from './schema/incoming.js';
import { OutgoingSchema } from './schema/outgoing.js';
import { ResultEntrySchema, ResultMessageSchema } from './schema/result.js';
import type { IncomingMessage, OutgoingMessage, ResultEntry, ResultMessage } from './types.js';

function validator<T>(schema: TSchema, options: { normalise: boolean }): (value: unknown) => T {
  const compiled = TypeCompiler.Compile(schema);
  return (value) => {
    if (!isPlainObject(value)) throw new EnvelopeError('', 'expected a JSON object');
    let problem: Problem | undefined = options.normalise ? normalise(value) : undefined;
    if (problem === undefined && !compiled.Check(value)) {
      // The walk explains the refusal; should it ever find nothing, TypeBox's own first error does.
      const first = compiled.Errors(value).First();
      problem = firstProblem(schema, value) ?? { path: first?.path.slice(1).replaceAll('/', '.') ?? '', reason: first?.message ?? 'invalid' };
    }
    problem ??= missingAlternative(schema, value);
    if (problem !== undefined) throw new EnvelopeError(problem.path, problem.reason);
    return value as T;
  };
}

/** Validates an outbox document (§4) in place and returns it typed. Throws EnvelopeError. */
export const parseOutgoing = validator<OutgoingMessage>(OutgoingSchema, { normalise: true });

/** Validates an inbox document (§3) in place and returns it typed. Throws EnvelopeError. */
export const parseIncoming = validator<IncomingMessage>(IncomingSchema, { normalise: true });

/** Validates one `results` entry (§6). Throws EnvelopeError. */
export const parseResultEntry = validator<ResultEntry>(ResultEntrySchema, { normalise: false });

/** Validates a document from a result queue (§6): `mime` is usually gone, `results` is required. */
export const parseResultMessage = validator<ResultMessage>(ResultMessageSchema, { normalise: true });
