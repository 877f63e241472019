export { Ingress, type IngressDeps, type Listener } from './ingress.js';
export { runIngress, startIngress, type RunningIngress } from './run.js';
export { Injector, InjectInputError, looksLikeJson, type InjectBatch, type InjectOrigin, type InjectRequest } from './inject/compose.js';
export { userName } from './inject/user-name.js';
export type { IngressMetrics } from './metrics.js';
