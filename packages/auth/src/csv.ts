import { AuthConfigError } from './backend.js';

/** One CSV record and the line (1-based) it starts on, for error messages. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export class CsvSyntaxError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvSyntaxError';
    this.line = line;
  }
}

/**
 * RFC 4180 records: `,` between fields, CRLF or LF between records, fields in double quotes may
 * hold commas, line breaks and `""` for a quote. Lenient where it cannot hurt: a leading BOM is
 * dropped, a missing final line break is fine, and blank lines (a record of one empty field) are
 * skipped. Strict where guessing could shift columns: a quote inside an unquoted field, text
 * after a closing quote and an unterminated quote are errors naming the line.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;

  const endField = (): void => {
    fields.push(field);
    field = '';
    quoted = false;
  };
  const endRecord = (): void => {
    const blank = fields.length === 0 && field === '' && !quoted;
    endField();
    if (!blank) records.push({ fields, line: recordLine });
    fields = [];
  };

  while (i < input.length) {
    const ch = input[i]!;
    if (ch === '"') {
      if (field !== '' || quoted) throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
      quoted = true;
      const openedOn = line;
      i += 1;
      for (;;) {
        if (i >= input.length) throw new CsvSyntaxError(openedOn, 'quoted field never closed');
        const c = input[i]!;
        i += 1;
        if (c === '"') {
          if (input[i] !== '"') break;
          i += 1;
        } else if (c === '\n') {
          line += 1;
        }
        field += c;
      }
      const next = input[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new CsvSyntaxError(line, 'text after a closing quote');
      }
    } else if (ch === ',') {
      endField();
      i += 1;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && input[i + 1] === '\n' ? 2 : 1;
      line += 1;
      recordLine = line;
    } else {
      if (quoted) throw new CsvSyntaxError(line, 'text after a closing quote');
      field += ch;
      i += 1;
    }
  }
  if (field !== '' || quoted || fields.length > 0) endRecord();
  return records;
}

/** Records after the optional header, without all-empty ones. @throws AuthConfigError */
export function dataRecords(text: string, label: string, header: boolean): CsvRecord[] {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new AuthConfigError(`${label} ${error.message}`);
    throw error;
  }
  return records.slice(header ? 1 : 0).filter((record) => record.fields.some((field) => field.trim() !== ''));
}

/** The concentrator allows column indexes 0-32. */
export function checkColumnIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index > 32) {
    throw new AuthConfigError(`CSV ${what} column must be an integer from 0 to 32, not ${index}`);
  }
}
