/** A row given to `create` is not acceptable. `fields` names the offending fields (REST answers 400). */
export class RuleValidationError extends Error {
  override readonly name: string = 'RuleValidationError';
  constructor(
    readonly kind: string,
    readonly fields: readonly string[],
    message: string,
  ) {
    super(message);
  }
}

/** Two fields that exclude each other (`pool`+`mta`, `domain`+`ip`) were both given. */
export class ExclusiveFieldsError extends RuleValidationError {
  override readonly name = 'ExclusiveFieldsError';
  constructor(kind: string, fields: readonly [string, string]) {
    super(kind, fields, `${kind}: "${fields[0]}" and "${fields[1]}" exclude each other; give one of them`);
  }
}

/** `database-address` names a database this build cannot use (mysql://), or is malformed. */
export class UnsupportedDatabaseError extends Error {
  override readonly name = 'UnsupportedDatabaseError';
}

/** The database was reachable but its tables are not what the migrations make (`database-validate`). */
export class SchemaMismatchError extends Error {
  override readonly name = 'SchemaMismatchError';
}
