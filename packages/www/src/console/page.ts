import type { RestKind } from '../rest.js';
import { CSRF_FIELD } from './csrf.js';
import { CONSOLE_TABLES, columnsOf, type FormField } from './forms.js';

/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><link rel="stylesheet" href="/console/console.css"></head>
<body>${body}</body></html>`;
}

export interface Flash {
  readonly ok?: string | undefined;
  readonly error?: string | undefined;
}

function flashHtml(flash: Flash | undefined): string {
  if (flash?.error) return `<p class="flash error" role="alert">${esc(flash.error)}</p>`;
  if (flash?.ok) return `<p class="flash ok" role="status">${esc(flash.ok)}</p>`;
  return '';
}

/** The login form; its CSRF token belongs to a nonce kept in a short-lived cookie. */
export function loginPage(options: { csrf: string; method: 'www-auth' | 'www-token' | 'none'; error?: string | undefined; server: string }): string {
  if (options.method === 'none') {
    return layout(
      'mtaq console',
      `<main class="login"><h1>mtaq</h1><p>The console is off: set <code>www-auth</code> (a login backend, as for <code>smtp-auth</code>)
or <code>www-token</code> (then log in with a token as the password) and restart.</p></main>`,
    );
  }
  const hint = options.method === 'www-token' ? '<p class="hint">Log in with any user name and one of the <code>www-token</code> tokens as the password.</p>' : '';
  return layout(
    'mtaq console — log in',
    `<main class="login"><h1>mtaq <span>${esc(options.server)}</span></h1>
${options.error ? `<p class="flash error" role="alert">${esc(options.error)}</p>` : ''}${hint}
<form method="post" action="/login">
<input type="hidden" name="${CSRF_FIELD}" value="${esc(options.csrf)}">
<label>User <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form></main>`,
  );
}

function input(field: FormField): string {
  const required = field.required ? ' required' : '';
  if (field.type === 'select') {
    const options = (field.required ? [] : ['']).concat(field.options ?? []);
    return `<label>${esc(field.label)} <select name="${esc(field.name)}"${required}>${options.map((o) => `<option value="${esc(o)}">${o === '' ? '—' : esc(o)}</option>`).join('')}</select></label>`;
  }
  const type = field.type === 'number' ? ' type="number"' : '';
  const placeholder = field.placeholder ? ` placeholder="${esc(field.placeholder)}"` : '';
  return `<label>${esc(field.label)} <input name="${esc(field.name)}"${type}${placeholder}${required}></label>`;
}

/** Selector columns where an empty value means "any" (§7.10). */
const SELECTORS = new Set(['domain', 'ip', 'pool', 'mta', 'tag']);

function cell(value: unknown, column: string): string {
  if (value === null || value === undefined) return SELECTORS.has(column) ? '<span class="any">*</span>' : '<span class="any">—</span>';
  if (typeof value === 'object') return `<code>${esc(JSON.stringify(value))}</code>`;
  return esc(value);
}

function ruleTable(kind: RestKind, title: string, fields: readonly FormField[], rows: readonly object[] | undefined, csrf: string): string {
  const columns = columnsOf(kind);
  const body =
    rows === undefined
      ? `<tr><td colspan="${columns.length + 1}" class="muted">The rule database cannot be read.</td></tr>`
      : rows.length === 0
        ? `<tr><td colspan="${columns.length + 1}" class="muted">None.</td></tr>`
        : rows
            .map((row) => {
              const r = row as Record<string, unknown>;
              return `<tr data-id="${esc(r['id'])}">${columns.map((c) => `<td>${cell(r[c], c)}</td>`).join('')}<td>
<form method="post" action="/console/rules/${kind}/${esc(r['id'])}/delete" class="inline"><input type="hidden" name="${CSRF_FIELD}" value="${esc(csrf)}"><button type="submit" class="delete" aria-label="Delete ${esc(kind)} ${esc(r['id'])}">Delete</button></form></td></tr>`;
            })
            .join('\n');
  return `<section class="rules" id="${kind}"><h3>${esc(title)} <span class="count">${rows?.length ?? '—'}</span></h3>
<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}<th></th></tr></thead><tbody>${body}</tbody></table>
<form method="post" action="/console/rules/${kind}" class="add" data-kind="${kind}"><input type="hidden" name="${CSRF_FIELD}" value="${esc(csrf)}">
${fields.map(input).join('\n')}<button type="submit">Add</button></form></section>`;
}

/** The console: live panels filled by console.js from /console/data.json, rule tables rendered here. */
export function consolePage(options: { user: string; server: string; csrf: string; rules: Partial<Record<RestKind, readonly object[]>>; flash?: Flash | undefined }): string {
  const tables = CONSOLE_TABLES.map((t) => ruleTable(t.kind, t.title, t.fields, options.rules[t.kind], options.csrf)).join('\n');
  return layout(
    `mtaq console — ${options.server}`,
    `<header><h1>mtaq <span>${esc(options.server)}</span></h1><span id="updated" class="muted">connecting…</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="${CSRF_FIELD}" value="${esc(options.csrf)}">
<span class="muted">${esc(options.user)}</span> <button type="submit">Log out</button></form></header>
<main>${flashHtml(options.flash)}
<div class="grid">
<section class="panel wide"><h2>Queues</h2><table id="queues"><thead><tr><th>Queue</th><th>Name</th><th class="num">Messages</th><th class="num">Consumers</th></tr></thead><tbody></tbody></table>
<p id="broker" class="muted"></p></section>
<section class="panel"><h2>Messages per second</h2>
<div class="rates"><div><span class="big" id="rate-in">—</span><span class="muted">in (received)</span></div><div><span class="big" id="rate-out">—</span><span class="muted">out (attempts)</span></div></div>
<svg id="spark" viewBox="0 0 240 60" preserveAspectRatio="none" role="img" aria-label="in and out per second, last two minutes"></svg>
<p class="muted legend"><span class="in">■</span> in <span class="out">■</span> out — last 2 minutes, this process</p></section>
<section class="panel wide"><h2>Delivery results per minute <span class="muted">(state and result of each attempt, this process)</span></h2><table id="results"><thead></thead><tbody></tbody></table></section>
<section class="panel"><h2>Connection budgets in use</h2><table id="budgets"><thead><tr><th>Destination</th><th class="num">In use</th><th>Per source IP</th></tr></thead><tbody></tbody></table>
<p id="redis" class="muted"></p></section>
</div>
<h2>Rules</h2><nav class="tabs">${CONSOLE_TABLES.map((t) => `<a href="#${t.kind}">${esc(t.title)}</a>`).join(' ')}</nav>
${tables}
</main><script src="/console/console.js"></script>`,
  );
}
