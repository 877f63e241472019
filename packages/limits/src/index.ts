export { effectiveLimits, localShare, type EffectiveLimits, type LimitRule, type Limits, type RuleScope } from './rules.js';
export { Budgets, type BudgetScope, type BudgetStats, type BudgetsOptions, type Lease, type WaitOptions } from './budgets.js';
export { processConnections, overTotal } from './process-connections.js';
