import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@mtaq/log';
import type { TokenCheck } from '../auth.js';
import type { Metrics } from '../metrics.js';
import { BadRequest, BODY_SCHEMAS, normaliseRow, type RestKind, type RuleApi } from '../rest.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { CSRF_FIELD, csrfToken, csrfValid } from './csrf.js';
import { ConsoleData, type ConsoleSources } from './data.js';
import { CONSOLE_TABLES } from './forms.js';
import { ConsoleLogin } from './login.js';
import { consolePage, loginPage, type Flash } from './page.js';
import { cookieValue, SESSION_COOKIE, SessionSigner, setCookie, type Session } from './session.js';

export interface ConsoleOptions {
  /** `www-auth`: the login backend URL; '' = log in with a www-token. */
  readonly auth: string;
  readonly tokens: TokenCheck;
  readonly sources: ConsoleSources;
  readonly metrics: Metrics;
  readonly rules: RuleApi | undefined;
  /** Announces a rule change to the cluster (never throws: the REST routes' own wrapper). */
  readonly changed: () => Promise<void>;
  readonly logger: Logger;
  /** Shown in the title: which node this is. */
  readonly name?: string;
}

const LOGIN_COOKIE = 'mtaq_login';
const FLASH_COOKIE = 'mtaq_flash';
/** Seconds a login form stays usable. */
const LOGIN_FORM_SECONDS = 1800;

/** Headers of every console page: nothing inline runs, nothing frames it, nothing caches it. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

const html = { response: { 200: { type: 'string' } } } as const;
const consoleKinds = CONSOLE_TABLES.map((t) => t.kind);

/**
 * The live console at `/` (issue 11 item 4): a login form (www-auth, else www-token), the page
 * (server-rendered; console.js polls /console/data.json for queue depths, rates, results and
 * budgets) and the rule forms, which go through the same RuleApi and reload announcement as the
 * REST routes. Sessions are signed cookies; every POST carries a CSRF token tied to the session.
 */
export async function registerConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const log = options.logger.child({ component: 'console' });
  const login = new ConsoleLogin(options.auth, options.tokens, log);
  const signer = new SessionSigner();
  const data = login.enabled ? new ConsoleData(options.sources, options.metrics, log) : undefined;
  const name = options.name ?? hostname();
  app.addHook('onClose', async () => {
    await data?.close();
    await login.close();
  });

  const secure = (request: FastifyRequest): boolean => request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';
  const session = (request: FastifyRequest): Session | undefined => signer.read(cookieValue(request.headers.cookie, SESSION_COOKIE));
  const page = (reply: FastifyReply, body: string, code = 200): FastifyReply => reply.code(code).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(body);
  const forbidden = (reply: FastifyReply, why: string): FastifyReply =>
    page(reply, `<!doctype html><title>Forbidden</title><p>${why} <a href="/login">Log in</a> and try again.</p>`, 403);

  /** A message for the next page, in a short-lived signed cookie (so no message comes from a link). */
  const flash = (reply: FastifyReply, request: FastifyRequest, message: Flash): void => {
    const value = Buffer.from(JSON.stringify(message)).toString('base64url');
    reply.header('set-cookie', setCookie(FLASH_COOKIE, `${value}.${signer.mac('flash', value)}`, { maxAge: 60, secure: secure(request) }));
  };
  const readFlash = (request: FastifyRequest): Flash | undefined => {
    const raw = cookieValue(request.headers.cookie, FLASH_COOKIE);
    const [value = '', mac = ''] = (raw ?? '').split('.');
    if (!value || !signer.verifyMac('flash', value, mac)) return undefined;
    try {
      return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Flash;
    } catch {
      return undefined;
    }
  };

  /** preValidation of every console POST: a session, its CSRF token, then the form as the REST body. */
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const current = session(request);
    if (!current) return void forbidden(reply, 'Your session has ended.');
    if (!csrfValid(signer, current.sid, request)) {
      log.warn({ remote: request.ip, url: request.url, user: current.user }, 'console POST refused: missing or wrong CSRF token');
      return void forbidden(reply, 'This form is out of date or did not come from the console.');
    }
    const body = { ...(request.body as Record<string, unknown>) };
    delete body[CSRF_FIELD];
    // an empty field means "not given": the REST defaults (and '*' = any) apply
    for (const [key, value] of Object.entries(body)) if (value === '') delete body[key];
    request.body = body;
  };

  app.get('/console/console.css', { schema: html }, async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(CONSOLE_CSS));
  app.get('/console/console.js', { schema: html }, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(CONSOLE_JS));

  app.get('/login', { schema: html }, async (request, reply) => {
    if (session(request)) return reply.redirect('/', 303);
    const nonce = randomBytes(16).toString('base64url');
    reply.header('set-cookie', setCookie(LOGIN_COOKIE, nonce, { maxAge: LOGIN_FORM_SECONDS, secure: secure(request) }));
    const message = readFlash(request);
    if (message) reply.header('set-cookie', setCookie(FLASH_COOKIE, '', { maxAge: 0, secure: secure(request) }));
    return page(reply, loginPage({ csrf: csrfToken(signer, `login:${nonce}`), method: login.method, server: name, error: message?.error }));
  });

  app.post(
    '/login',
    {
      bodyLimit: 16 * 1024,
      schema: {
        body: { type: 'object', properties: { username: { type: 'string', maxLength: 255 }, password: { type: 'string', maxLength: 1024 }, [CSRF_FIELD]: { type: 'string' } }, required: ['username', 'password', CSRF_FIELD] },
        response: html.response,
      },
    },
    async (request, reply) => {
      const nonce = cookieValue(request.headers.cookie, LOGIN_COOKIE);
      if (!nonce || !csrfValid(signer, `login:${nonce}`, request)) return forbidden(reply, 'This login form is out of date.');
      if (!login.enabled) return reply.redirect('/login', 303);
      const { username, password } = request.body as { username: string; password: string };
      const result = await login.check(username, password, request.ip);
      if ('refused' in result) {
        flash(reply, request, { error: result.refused });
        return reply.redirect('/login', 303);
      }
      const { cookie } = signer.issue(result.user);
      reply.header('set-cookie', [
        setCookie(SESSION_COOKIE, cookie, { maxAge: signer.lifetime, secure: secure(request) }),
        setCookie(LOGIN_COOKIE, '', { maxAge: 0, secure: secure(request) }),
      ]);
      return reply.redirect('/', 303);
    },
  );

  app.post('/logout', { preValidation: guard, schema: { response: html.response } }, async (request, reply) => {
    log.info({ user: session(request)?.user }, 'console logout');
    reply.header('set-cookie', setCookie(SESSION_COOKIE, '', { maxAge: 0, secure: secure(request) }));
    return reply.redirect('/login', 303);
  });

  app.get('/', { schema: html }, async (request, reply) => {
    const current = session(request);
    if (!current) return reply.redirect('/login', 303);
    const rules: Partial<Record<RestKind, readonly object[]>> = {};
    if (options.rules) {
      const rulesApi = options.rules;
      await Promise.all(
        consoleKinds.map(async (kind) => {
          rules[kind] = await rulesApi.list(kind).catch(() => undefined as never);
        }),
      );
    }
    const message = readFlash(request);
    if (message) reply.header('set-cookie', setCookie(FLASH_COOKIE, '', { maxAge: 0, secure: secure(request) }));
    return page(reply, consolePage({ user: current.user, server: name, csrf: csrfToken(signer, current.sid), rules, flash: message }));
  });

  app.get('/console/data.json', { schema: { response: { 200: { type: 'object', additionalProperties: true }, 401: { type: 'object', properties: { error: { type: 'string' } } } } } }, async (request, reply) => {
    if (!session(request) || !data) return reply.code(401).send({ error: 'log in at /login' });
    return reply.header('cache-control', 'no-store').send(await data.live());
  });

  for (const kind of consoleKinds) {
    app.post(
      `/console/rules/${kind}`,
      { bodyLimit: 64 * 1024, preValidation: guard, attachValidation: true, schema: { body: BODY_SCHEMAS[kind], response: html.response } },
      async (request, reply) => {
        const done = (message: Flash): FastifyReply => {
          flash(reply, request, message);
          return reply.redirect(`/#${kind}`, 303);
        };
        if (request.validationError) return done({ error: `Not added: ${request.validationError.message}` });
        if (!options.rules) return done({ error: 'Not added: this process has no rule database (database-address).' });
        try {
          const created = await options.rules.create(kind, normaliseRow(kind, request.body as Record<string, unknown>));
          log.info({ kind, id: created.id, user: session(request)?.user }, 'rule created in the console');
          await options.changed();
          return done({ ok: `Added ${kind} row ${created.id}.` });
        } catch (err) {
          if (!(err instanceof BadRequest) && (err as { statusCode?: number }).statusCode === undefined) log.error({ kind, err: (err as Error).message }, 'console: rule not created');
          return done({ error: `Not added: ${(err as Error).message}` });
        }
      },
    );
  }

  app.post(
    '/console/rules/:kind/:id/delete',
    {
      preValidation: guard,
      schema: { params: { type: 'object', required: ['kind', 'id'], properties: { kind: { enum: consoleKinds }, id: { type: 'integer', minimum: 1 } } }, response: html.response },
    },
    async (request, reply) => {
      const { kind, id } = request.params as { kind: RestKind; id: number };
      const done = (message: Flash): FastifyReply => {
        flash(reply, request, message);
        return reply.redirect(`/#${kind}`, 303);
      };
      if (!options.rules) return done({ error: 'Not deleted: this process has no rule database (database-address).' });
      try {
        if (!(await options.rules.remove(kind, id))) return done({ error: `No ${kind} row ${id} (deleted already?).` });
        log.info({ kind, id, user: session(request)?.user }, 'rule deleted in the console');
        await options.changed();
        return done({ ok: `Deleted ${kind} row ${id}.` });
      } catch (err) {
        return done({ error: `Not deleted: ${(err as Error).message}` });
      }
    },
  );
}

export { consoleLoginProblem } from './login.js';
export type { ConsoleSources } from './data.js';
export type { QueueNames, QueueRef } from './queues.js';
