/**
 * The log-line templates of `send-log-format` and `received-log-format` (reference §2.5): MailerQ's
 * Smart-TPL subset. `{$a.b.c}` is replaced by that value; `{if COND}…{elseif COND}…{else}…{/if}`
 * chooses a part. Everything else is copied as it is, including a `{` that starts no tag.
 *
 * Values: missing or null → empty; strings as they are; numbers and booleans as text; arrays joined
 * with ","; objects as JSON. Line breaks inside a value become spaces, so one record stays one line.
 *
 * Conditions: `$a.b` (true when not empty, not 0, not false), `!$x` / `not $x`, comparisons `==`,
 * `!=`, `<`, `<=`, `>`, `>=` against another variable, a number or a quoted string, combined with
 * `and`/`&&`, `or`/`||` and parentheses.
 */

export type TemplateContext = Readonly<Record<string, unknown>>;

export interface Template {
  readonly source: string;
  /** Every variable the template names, as written without the `$` (`result.code`). */
  readonly variables: readonly string[];
  render(context: TemplateContext): string;
}

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

type Expr =
  | { readonly kind: 'var'; readonly path: readonly string[] }
  | { readonly kind: 'lit'; readonly value: string | number }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'bin'; readonly op: string; readonly left: Expr; readonly right: Expr };

type Node =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly path: readonly string[] }
  | { readonly kind: 'if'; readonly branches: ReadonlyArray<{ readonly cond: Expr | undefined; readonly body: Node[] }> };

const VAR = /^\$([A-Za-z_][\w-]*(?:\.[\w-]+)*)$/;
/** A tag: `{$…}`, `{if …}`, `{elseif …}`, `{else}`, `{/if}`. Anything else in braces is text. */
const TAG = /\{(\$[A-Za-z_][\w.-]*|if\s[^{}]*|elseif\s[^{}]*|else|\/if)\}/g;

export function compileTemplate(source: string): Template {
  const variables = new Set<string>();
  const root: Node[] = [];
  const stack: Array<{ node: { kind: 'if'; branches: Array<{ cond: Expr | undefined; body: Node[] }> }; hasElse: boolean }> = [];
  const current = (): Node[] => {
    const top = stack.at(-1);
    return top ? top.node.branches.at(-1)!.body : root;
  };
  let at = 0;
  for (const match of source.matchAll(TAG)) {
    if (match.index > at) current().push({ kind: 'text', text: source.slice(at, match.index) });
    at = match.index + match[0].length;
    const tag = match[1]!;
    if (tag.startsWith('$')) {
      const m = VAR.exec(tag);
      if (!m) throw new TemplateError(`bad variable ${match[0]}`);
      variables.add(m[1]!);
      current().push({ kind: 'var', path: m[1]!.split('.') });
    } else if (tag.startsWith('if')) {
      const node = { kind: 'if' as const, branches: [{ cond: parseCondition(tag.slice(2), variables), body: [] as Node[] }] };
      current().push(node);
      stack.push({ node, hasElse: false });
    } else if (tag.startsWith('elseif')) {
      const top = stack.at(-1);
      if (!top || top.hasElse) throw new TemplateError(`${match[0]} without its {if}`);
      top.node.branches.push({ cond: parseCondition(tag.slice(6), variables), body: [] });
    } else if (tag === 'else') {
      const top = stack.at(-1);
      if (!top || top.hasElse) throw new TemplateError('{else} without its {if}');
      top.hasElse = true;
      top.node.branches.push({ cond: undefined, body: [] });
    } else {
      if (!stack.pop()) throw new TemplateError('{/if} without its {if}');
    }
  }
  if (stack.length) throw new TemplateError('{if} without its {/if}');
  if (at < source.length) root.push({ kind: 'text', text: source.slice(at) });
  return {
    source,
    variables: [...variables],
    render: (context) => renderNodes(root, context),
  };
}

/** The variables of `template` whose first part is not one of `known` (for a start-up warning). */
export function unknownVariables(template: Template, known: readonly string[]): string[] {
  return template.variables.filter((v) => !known.includes(v.split('.')[0]!));
}

function renderNodes(nodes: readonly Node[], context: TemplateContext): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'var') out += asText(lookup(context, node.path));
    else {
      const branch = node.branches.find((b) => b.cond === undefined || truthy(evaluate(b.cond, context)));
      if (branch) out += renderNodes(branch.body, context);
    }
  }
  return out;
}

function lookup(context: TemplateContext, path: readonly string[]): unknown {
  let value: unknown = context;
  for (const part of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A value as log text: one line. */
export function asText(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (Array.isArray(value)) text = value.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : asText(v))).join(',');
  else if (value instanceof Date) text = value.toISOString();
  else text = JSON.stringify(value) ?? '';
  return text.replace(/[\r\n]+/g, ' ');
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0 || value === '0') return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

function evaluate(expr: Expr, context: TemplateContext): unknown {
  switch (expr.kind) {
    case 'var':
      return lookup(context, expr.path);
    case 'lit':
      return expr.value;
    case 'not':
      return !truthy(evaluate(expr.operand, context));
    case 'bin': {
      if (expr.op === 'and') return truthy(evaluate(expr.left, context)) && truthy(evaluate(expr.right, context));
      if (expr.op === 'or') return truthy(evaluate(expr.left, context)) || truthy(evaluate(expr.right, context));
      return compare(expr.op, evaluate(expr.left, context), evaluate(expr.right, context));
    }
  }
}

function compare(op: string, a: unknown, b: unknown): boolean {
  const na = typeof a === 'number' ? a : typeof a === 'string' && a.trim() !== '' ? Number(a) : NaN;
  const nb = typeof b === 'number' ? b : typeof b === 'string' && b.trim() !== '' ? Number(b) : NaN;
  const numeric = !Number.isNaN(na) && !Number.isNaN(nb);
  const x: number | string = numeric ? na : asText(a);
  const y: number | string = numeric ? nb : asText(b);
  switch (op) {
    case '==':
      return x === y;
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

// ---------------------------------------------------------------- conditions

type Token = { readonly t: 'var' | 'num' | 'str' | 'op' | '(' | ')'; readonly v: string };

const TOKEN = /\s*(?:(\$[A-Za-z_][\w-]*(?:\.[\w-]+)*)|(-?\d+(?:\.\d+)?)|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(==|!=|<=|>=|&&|\|\||[<>!()]|\band\b|\bor\b|\bnot\b|\beq\b|\bne\b))/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) throw new TemplateError(`cannot read the condition "${text.trim()}" at "${text.slice(at).trim()}"`);
    at = TOKEN.lastIndex;
    if (m[1] !== undefined) tokens.push({ t: 'var', v: m[1].slice(1) });
    else if (m[2] !== undefined) tokens.push({ t: 'num', v: m[2] });
    else if (m[3] !== undefined || m[4] !== undefined) tokens.push({ t: 'str', v: (m[3] ?? m[4]!).replace(/\\(.)/g, '$1') });
    else {
      const op = m[5]!;
      if (op === '(' || op === ')') tokens.push({ t: op, v: op });
      else tokens.push({ t: 'op', v: ({ '&&': 'and', '||': 'or', '!': 'not', eq: '==', ne: '!=' } as Record<string, string>)[op] ?? op });
    }
  }
  return tokens;
}

function parseCondition(text: string, variables: Set<string>): Expr {
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new TemplateError('{if} without a condition');
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const fail = (): never => {
    throw new TemplateError(`cannot read the condition "${text.trim()}"`);
  };
  const or = (): Expr => {
    let left = and();
    while (peek()?.t === 'op' && peek()!.v === 'or') {
      i++;
      left = { kind: 'bin', op: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Expr => {
    let left = unary();
    while (peek()?.t === 'op' && peek()!.v === 'and') {
      i++;
      left = { kind: 'bin', op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    if (peek()?.t === 'op' && peek()!.v === 'not') {
      i++;
      return { kind: 'not', operand: unary() };
    }
    const left = primary();
    const next = peek();
    if (next?.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(next.v)) {
      i++;
      return { kind: 'bin', op: next.v, left, right: primary() };
    }
    return left;
  };
  const primary = (): Expr => {
    const token = tokens[i++] ?? fail();
    if (token.t === 'var') {
      variables.add(token.v);
      return { kind: 'var', path: token.v.split('.') };
    }
    if (token.t === 'num') return { kind: 'lit', value: Number(token.v) };
    if (token.t === 'str') return { kind: 'lit', value: token.v };
    if (token.t === '(') {
      const inner = or();
      if (tokens[i++]?.t !== ')') fail();
      return inner;
    }
    return fail();
  };
  const expr = or();
  if (i !== tokens.length) fail();
  return expr;
}

/**
 * A log-format key's template for a service starting up: a template that cannot be read throws an
 * error naming the key; unknown variables (they print as nothing) are warned about once.
 */
export function compileLogFormat(
  key: string,
  format: string,
  known: readonly string[],
  logger: { warn(obj: object, msg: string): void },
): Template {
  let template: Template;
  try {
    template = compileTemplate(format);
  } catch (err) {
    throw new TemplateError(`${key}: ${(err as Error).message}`);
  }
  const unknown = unknownVariables(template, known);
  if (unknown.length) {
    logger.warn(
      { key, unknown: unknown.map((v) => `$${v}`), known: known.map((v) => `$${v}`) },
      `${key}: unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.map((v) => `{$${v}}`).join(', ')} print as nothing (known: ${known.map((v) => `$${v}`).join(', ')})`,
    );
  }
  return template;
}
