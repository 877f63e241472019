import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { isLoopback, TokenCheck, watchTokenFile, wwwTokens } from './auth.js';
import { registerConsole, type ConsoleSources } from './console/routes.js';
import type { Metrics } from './metrics.js';
import { BadRequest, BODY_SCHEMAS, normaliseRow, presentRow, REST_KINDS, type RestKind, type RuleApi } from './rest.js';

/** §3's `http` property of an injected message. */
export interface HttpOrigin {
  readonly authentication: string;
  readonly 'remote-ip': string;
  readonly 'remote-port': number;
}

/** What `POST /v1/inject` hands to the ingress. */
export interface InjectCall {
  /** A JSON outgoing document (as bytes), or the MIME of the `{envelope, recipients, mime}` form. */
  readonly input: Buffer;
  readonly envelope?: string | undefined;
  readonly recipients?: readonly string[] | undefined;
  readonly http: HttpOrigin;
}

/** Publishes with confirms; answers the ids. Errors with `statusCode` 400 (bad input) or 503 (broker) are answered as such. */
export type InjectHandler = (call: InjectCall) => Promise<{ ids: string[] }>;

export interface WwwOptions {
  readonly config: Pick<Config, 'www-ip' | 'www-port' | 'www-token' | 'www-metrics-public' | 'smtp-maxsize'> & Partial<Pick<Config, 'www-auth'>>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The rule tables behind /v1/<kind>; without it those routes answer 503. */
  readonly rules?: RuleApi | undefined;
  /** Called after a rule was created or deleted (publishes `{"reload": true}` on the cluster exchange). */
  readonly onRulesChanged?: (() => Promise<void>) | undefined;
  /** Where the console at `/` reads queue depths and budgets; without it there is no console. */
  readonly console?: ConsoleSources | undefined;
}

export interface RunningWww {
  readonly address: string;
  readonly port: number;
  /** `GET /ready` answers 200 only when every check registered here passes. */
  readiness(name: string, check: () => boolean): void;
  /** `POST /v1/inject` answers 503 until the ingress of this process sets this. */
  setInject(handler: InjectHandler): void;
  close(): Promise<void>;
}

const errorBody = { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } } } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;

/** Ajv's first error as `body.field: message`, naming the field even when it is missing or unknown. */
function describeValidation(errors: ReadonlyArray<{ instancePath: string; message?: string | undefined; params: Record<string, unknown> }>, context: string): { field: string; message: string } {
  const first = errors[0];
  if (!first) return { field: context, message: 'invalid' };
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = first.params['missingProperty'] ?? first.params['additionalProperty'];
  const field = [context, path, typeof extra === 'string' ? extra : ''].filter(Boolean).join('.');
  const message = first.params['additionalProperty'] !== undefined ? 'is not a known field' : (first.message ?? 'invalid');
  return { field, message };
}

/** Form bodies: values that look like JSON objects or arrays (`actions`, `recipients`) are parsed as JSON. */
function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    let parsed: unknown = value;
    if (/^\s*[[{]/.test(value)) {
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new BadRequest(`body.${key}`, 'is not valid JSON');
      }
    }
    const previous = out[key];
    out[key] = previous === undefined ? parsed : Array.isArray(previous) ? [...previous, parsed] : [previous, parsed];
  }
  return out;
}

/**
 * The HTTP server of one mtaq process (`www-ip`:`www-port`): health, readiness, Prometheus
 * metrics, the REST API for the rule tables and `POST /v1/inject`. Throws WwwConfigError (exit 78)
 * when it must not start: a non-loopback address without a token, an unreadable token file.
 */
export async function startWww(options: WwwOptions): Promise<RunningWww> {
  const { config, metrics } = options;
  const log = options.logger.child({ component: 'www' });
  const tokens = new TokenCheck(wwwTokens(config));
  const loopback = isLoopback(config['www-ip']);
  const metricsOpen = loopback || config['www-metrics-public'];
  const checks = new Map<string, () => boolean>();
  let inject: InjectHandler | undefined;

  const app: FastifyInstance = Fastify({
    logger: false,
    // an injected message is JSON-escaped MIME: room for smtp-maxsize plus escaping
    bodyLimit: Math.max(1024 * 1024, Math.ceil(config['smtp-maxsize'] * 1.5)),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaErrorFormatter: (errors, context) => {
      const { field, message } = describeValidation(errors as never, context);
      return Object.assign(new BadRequest(field, message), { statusCode: 400 });
    },
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(Object.assign(err as Error, { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (err instanceof BadRequest) return reply.code(400).send({ error: err.message, field: err.field });
    const status = err.statusCode ?? 500;
    if (status >= 500) log.error({ err: err.message, url: request.routeOptions.url }, 'request failed');
    return reply.code(status).send({ error: status >= 500 && status !== 503 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'no such route' }));

  /** The token's number (names the client), or undefined after answering 401. */
  const authenticate = (request: FastifyRequest, reply: FastifyReply): number | undefined => {
    const which = tokens.match(request.headers.authorization);
    if (which > 0) return which;
    log.warn({ remote: request.ip, url: request.routeOptions.url, given: request.headers.authorization !== undefined }, 'HTTP request without a valid token');
    void reply.code(401).header('www-authenticate', 'Bearer').send({ error: tokens.configured ? 'missing or wrong bearer token' : 'no www-token is configured: the REST API is off' });
    return undefined;
  };

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get(
    '/ready',
    { schema: { response: { '2xx': { type: 'object', properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } }, 503: { type: 'object', properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } } } } },
    async (_request, reply) => {
      const results: Record<string, boolean> = {};
      for (const [name, check] of checks) results[name] = safely(check);
      const ready = checks.size > 0 && Object.values(results).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ ready, checks: results });
    },
  );

  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (request, reply) => {
    if (!metricsOpen && authenticate(request, reply) === undefined) return reply;
    return reply.type(metrics.contentType).send(await metrics.text());
  });

  for (const kind of REST_KINDS) {
    app.get(`/v1/${kind}`, { schema: { response: { 200: { type: 'array', items: anyObject }, '4xx': errorBody, '5xx': errorBody } } }, async (request, reply) => {
      if (authenticate(request, reply) === undefined) return reply;
      return reply.send((await store(options.rules).list(kind)).map((row) => presentRow(kind, row)));
    });
    app.post(`/v1/${kind}`, { schema: { body: BODY_SCHEMAS[kind], response: { 201: anyObject, '4xx': errorBody, '5xx': errorBody } }, bodyLimit: 64 * 1024, preValidation: requireToken }, async (request, reply) => {
      const row = normaliseRow(kind, request.body as Record<string, unknown>);
      const created = await store(options.rules).create(kind, row);
      log.info({ kind, id: created.id }, 'rule created');
      await changed();
      return reply.code(201).send(presentRow(kind, created));
    });
    app.delete(
      `/v1/${kind}/:id`,
      {
        schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } }, response: { 200: anyObject, '4xx': errorBody, '5xx': errorBody } },
        preValidation: requireToken,
      },
      async (request, reply) => {
        const id = (request.params as { id: number }).id;
        if (!(await store(options.rules).remove(kind, id))) return reply.code(404).send({ error: `no ${kind} row ${id}` });
        log.info({ kind, id }, 'rule deleted');
        await changed();
        return reply.send({ id, deleted: true });
      },
    );
  }

  app.post(
    '/v1/inject',
    {
      preValidation: requireToken,
      schema: {
        body: {
          type: 'object',
          properties: {
            envelope: { type: 'string' },
            recipient: { type: 'string' },
            recipients: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            mime: { type: 'string', minLength: 1 },
          },
          anyOf: [{ required: ['recipient'] }, { required: ['recipients', 'mime'] }],
        },
        response: { 201: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } }, '4xx': errorBody, '5xx': errorBody },
      },
    },
    async (request, reply) => {
      if (!inject) return reply.code(503).send({ error: 'this process has no ingress: inject through the ingress or pipeline process' });
      const body = request.body as Record<string, unknown>;
      const which = tokens.match(request.headers.authorization);
      const http: HttpOrigin = { authentication: `bearer:${which}`, 'remote-ip': request.socket.remoteAddress ?? request.ip, 'remote-port': request.socket.remotePort ?? 0 };
      // {"envelope","recipients":[…],"mime"}: the MIME with that envelope; anything else is an outgoing document
      const mimeForm = Array.isArray(body['recipients']) && body['recipient'] === undefined;
      if (mimeForm && 'recipients' in body && Object.keys(body).some((k) => !['envelope', 'recipients', 'mime'].includes(k))) {
        throw new BadRequest(`body.${Object.keys(body).find((k) => !['envelope', 'recipients', 'mime'].includes(k))}`, 'is not a field of the {envelope, recipients, mime} form');
      }
      const call: InjectCall = mimeForm
        ? { input: Buffer.from(String(body['mime']), 'utf8'), envelope: typeof body['envelope'] === 'string' ? body['envelope'] : undefined, recipients: body['recipients'] as string[], http }
        : { input: Buffer.from(JSON.stringify(body), 'utf8'), http };
      const { ids } = await inject(call);
      log.info({ ids, remote: http['remote-ip'] }, 'injected over HTTP');
      return reply.code(201).send({ ids });
    },
  );

  async function requireToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (authenticate(request, reply) === undefined) return reply;
  }

  async function changed(): Promise<void> {
    try {
      await options.onRulesChanged?.();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'rule change made, but the cluster reload could not be announced (nodes reload within database-ttl)');
    }
  }

  if (options.console) {
    await registerConsole(app, { auth: config['www-auth'] ?? '', tokens, sources: options.console, metrics, rules: options.rules, changed, logger: log });
  }

  await app.listen({ host: config['www-ip'], port: config['www-port'] });
  // a token file is re-read on SIGHUP: tokens added or revoked without a restart
  const unwatchTokens = watchTokenFile(config, tokens, log);
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config['www-port'];
  log.info({ address: config['www-ip'], port, tokens: tokens.configured, metricsPublic: metricsOpen }, 'HTTP server listening');
  return {
    address: config['www-ip'],
    port,
    readiness: (name, check) => void checks.set(name, check),
    setInject: (handler) => {
      inject = handler;
    },
    close: async () => {
      unwatchTokens();
      await app.close();
    },
  };
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function store(rules: RuleApi | undefined): RuleApi {
  if (!rules) throw Object.assign(new Error('the rule database is not available in this process'), { statusCode: 503 });
  return rules;
}

export type { RestKind, RuleApi };
