import type { RestKind } from '../rest.js';

/** One input of a rule form; `name` is the REST body field it fills. */
export interface FormField {
  readonly name: string;
  readonly label: string;
  readonly type?: 'text' | 'number' | 'select';
  readonly options?: readonly string[];
  readonly placeholder?: string;
  readonly required?: boolean;
}

const selector = (withIp = true): FormField[] => [
  { name: 'domain', label: 'Domain', placeholder: 'example.com or *' },
  ...(withIp ? [{ name: 'ip', label: 'Recipient MX IP', placeholder: 'or domain' }] : []),
  { name: 'pool', label: 'Pool', placeholder: 'name or *' },
  { name: 'mta', label: 'Source IP (mta)', placeholder: 'or pool' },
  { name: 'tag', label: 'Tag' },
];
const cluster: FormField = { name: 'cluster', label: 'Cluster-wide', type: 'select', options: ['true', 'false'] };
const description: FormField = { name: 'description', label: 'Description' };

/**
 * The rule tables the console shows, in this order, with the fields of their add forms. Flood
 * patterns and DKIM keys are left to the REST API: a private key has no place on a web page.
 */
export const CONSOLE_TABLES: ReadonlyArray<{ readonly kind: RestKind; readonly title: string; readonly fields: readonly FormField[] }> = [
  {
    kind: 'suppressions',
    title: 'Suppressions',
    fields: [
      { name: 'type', label: 'Type', type: 'select', options: ['address', 'domain'], required: true },
      { name: 'value', label: 'Address or domain', required: true },
      { name: 'code', label: 'Code', type: 'number', placeholder: '550' },
      { name: 'extended', label: 'Extended', placeholder: '5.7.1' },
      description,
    ],
  },
  { kind: 'pauses', title: 'Pauses', fields: [...selector(), cluster, description] },
  {
    kind: 'errors',
    title: 'Forced errors',
    fields: [...selector(), { name: 'code', label: 'Code', type: 'number', required: true, placeholder: '421' }, { name: 'extended', label: 'Extended', placeholder: '4.7.0' }, cluster, description],
  },
  {
    kind: 'patterns',
    title: 'Response patterns',
    fields: [
      { name: 'pattern', label: 'Pattern', required: true },
      { name: 'match', label: 'Match', type: 'select', options: ['substring', 'exact', 'wildcard', 'regex'] },
      ...selector(false),
      { name: 'priority', label: 'Priority', type: 'number', placeholder: '0' },
      { name: 'continue', label: 'Continue', type: 'select', options: ['false', 'true'] },
      { name: 'actions', label: 'Actions (JSON)', placeholder: '{"result":"retry","after":600}' },
      description,
    ],
  },
  { kind: 'pools', title: 'Pools', fields: [{ name: 'name', label: 'Name', required: true }, description] },
  {
    kind: 'poolips',
    title: 'Pool IPs',
    fields: [
      { name: 'pool', label: 'Pool', required: true },
      { name: 'ip', label: 'IP', required: true },
    ],
  },
  {
    kind: 'externalmtas',
    title: 'External MTAs',
    fields: [{ name: 'ip', label: 'IP', required: true }, { name: 'hostname', label: 'Host name' }, description],
  },
];

/** Columns of a table: the id, the form's fields, and the owner of instance-scoped rules. */
export function columnsOf(kind: RestKind): string[] {
  const table = CONSOLE_TABLES.find((t) => t.kind === kind);
  const fields = table ? table.fields.map((f) => f.name) : [];
  return ['id', ...fields, ...(kind === 'pauses' || kind === 'errors' ? ['owner'] : [])];
}
