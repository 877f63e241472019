/**
 * The thread the sender checks run in (see sender-auth-thread.ts): mailauth parses, hashes and
 * verifies on every message, and here that work uses a core of its own instead of the event loop
 * that speaks SMTP. It keeps its own DNS cache, for the life of the process.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { createResolver, DnsCache, type ResolverConfig } from '@mtaq/dns';
import { budgetedResolver } from './dns-budget.js';
import { authenticateSender, type SenderCheck, type SessionFacts } from './sender-auth.js';

export interface WorkerSetup {
  readonly checks: readonly SenderCheck[];
  readonly resolver: ResolverConfig;
  readonly minTtl: number;
}

export interface CheckRequest {
  readonly id: number;
  readonly message: Uint8Array;
  readonly facts: SessionFacts;
  /** Epoch ms when the message's budget runs out (time spent waiting here counts too). */
  readonly deadline: number;
}

const setup = workerData as WorkerSetup;
const checks = new Set(setup.checks);
const cache = new DnsCache(createResolver(setup.resolver), { minTtl: setup.minTtl });

parentPort!.on('message', (request: CheckRequest) => {
  // fallen behind: nobody waits for this one any more (the ingress answered temperror)
  if (Date.now() >= request.deadline) {
    parentPort!.postMessage({ id: request.id, error: 'not started within smtp-check-timeout' });
    return;
  }
  const budget = AbortSignal.timeout(Math.max(1, request.deadline - Date.now()));
  const message = Buffer.from(request.message.buffer, request.message.byteOffset, request.message.byteLength);
  authenticateSender(message, request.facts, checks, budgetedResolver(cache, budget), () => budget.aborted).then(
    (outcome) => parentPort!.postMessage({ id: request.id, outcome }),
    (error: unknown) => parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
