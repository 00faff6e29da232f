import { Counter, Gauge, Registry } from 'prom-client'

/** The Prometheus metrics of one receiver + worker process. */
export class Metrics {
  readonly registry = new Registry()
  readonly received = new Counter({
    name: 'webhook_deliveries_received_total',
    help: 'Signed webhook deliveries received, by source (bad signatures count as rejected)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  })
  readonly rejected = new Counter({
    name: 'webhook_deliveries_rejected_total',
    help: 'Deliveries refused before queueing, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly duplicates = new Counter({
    name: 'webhook_duplicates_total',
    help: 'Deliveries whose job already existed (nothing queued)',
    registers: [this.registry],
  })
  readonly queued = new Counter({
    name: 'jobs_queued_total',
    help: 'Jobs added to the queue',
    registers: [this.registry],
  })
  readonly completed = new Counter({
    name: 'jobs_completed_total',
    help: 'Jobs that finished',
    registers: [this.registry],
  })
  readonly failed = new Counter({
    name: 'jobs_attempts_failed_total',
    help: 'Job attempts that threw (the queue retries or dead-letters them)',
    registers: [this.registry],
  })
  readonly executed = new Counter({
    name: 'jobs_executed_total',
    help: 'Jobs whose work actually ran (not answered from the idempotency store)',
    registers: [this.registry],
  })
  readonly claudeAttempts = new Counter({
    name: 'claude_attempts_total',
    help: 'Requests sent to the Claude API, by model',
    labelNames: ['model'] as const,
    registers: [this.registry],
  })
  readonly claudeRetries = new Counter({
    name: 'claude_retries_total',
    help: 'Claude requests retried after a transient error',
    registers: [this.registry],
  })
  readonly claudeFallbacks = new Counter({
    name: 'claude_fallbacks_total',
    help: 'Calls moved to a fallback model',
    registers: [this.registry],
  })
  readonly breakerTransitions = new Counter({
    name: 'claude_breaker_transitions_total',
    help: 'Per-model breaker state changes',
    labelNames: ['model', 'to'] as const,
    registers: [this.registry],
  })
  readonly idempotencyHits = new Counter({
    name: 'idempotency_hits_total',
    help: 'Jobs answered from a completed idempotency record',
    registers: [this.registry],
  })
  readonly idempotencyMisses = new Counter({
    name: 'idempotency_misses_total',
    help: 'Jobs that claimed their idempotency key and ran',
    registers: [this.registry],
  })
  readonly dlqDepth = new Gauge({
    name: 'dlq_depth',
    help: 'Jobs in the dead-letter queue',
    registers: [this.registry],
  })
  readonly queueDepth = new Gauge({
    name: 'queue_depth',
    help: 'Jobs waiting or running',
    registers: [this.registry],
  })
}
