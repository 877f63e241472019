export * from './types.js';
export * from './errors.js';
export type { RuleStore } from './store.js';
