export { Ingress, type IngressDeps, type Listener } from './ingress.js';
export { runIngress, startIngress, type RunningIngress } from './run.js';
