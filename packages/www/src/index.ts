export { isLoopback, loadTokens, TokenCheck, WwwConfigError, wwwTokens } from './auth.js';
export { consoleLoginProblem, type ConsoleSources, type QueueNames, type QueueRef } from './console/routes.js';
export { Metrics } from './metrics.js';
export { BadRequest, BODY_SCHEMAS, normaliseRow, REST_KINDS, type RestKind, type RuleApi } from './rest.js';
export { startWww, type HttpOrigin, type InjectCall, type InjectHandler, type RunningWww, type WwwOptions } from './server.js';
