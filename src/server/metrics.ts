/**
 * Prometheus metrics of `hookctl serve` (GET /metrics): hookctl's own in a registry per server,
 * so that several servers in one process (tests, the harness) count apart, and the process
 * defaults (CPU, memory, event loop, GC), which are the process's, collected once. Labels are
 * statuses and outcomes only: never an id, a key, an identity or a secret.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../state/database.js';
import type { ExecutionObserver } from '../engine/observer.js';
import type { RequestStatus } from '../state/request-types.js';
import { countClaimable } from '../state/request-store.js';

/** Webhook call durations, in seconds: from a fast local receiver to the longest timeout a connection may set (600 s). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

let processRegistry: Registry | undefined;

/** The default metrics' collectors watch the process from their creation on: one set per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class ServerMetrics {
  private readonly own = new Registry();
  /** What GET /metrics shows: this server's metrics and the process's. */
  readonly registry: Registry;
  private readonly requests: Counter<'status'>;
  private readonly calls: Counter<'outcome'>;
  private readonly durations: Histogram;

  /** `db.knex` is read at each scrape: the harness's database is whichever scenario runs. */
  constructor(db: Database) {
    const registers = [this.own];
    this.requests = new Counter({
      name: 'hookctl_privacy_requests_total',
      help: 'Privacy requests that entered each status in this process: pending when created, in_processing when their execution started, was resumed or retried, then paused, complete or error.',
      labelNames: ['status'],
      registers,
    });
    this.calls = new Counter({
      name: 'hookctl_webhook_calls_total',
      help: "Webhook calls made by this process's worker, by outcome (continue, halt, halt_ignored, error); skipped: not sent, the connection is disabled.",
      labelNames: ['outcome'],
      registers,
    });
    this.durations = new Histogram({
      name: 'hookctl_webhook_call_duration_seconds',
      help: 'Duration of the webhook calls sent by this process, until the response was read or the call failed.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'hookctl_queue_depth',
      help: 'Privacy requests waiting for a worker (pending, or in processing with no live lease), read from the state when scraped; NaN when the state does not answer.',
      registers,
      async collect() {
        this.set(await Promise.resolve().then(() => countClaimable(db)).catch(() => NaN));
      },
    });
    this.registry = Registry.merge([this.own, processMetrics()]);
  }

  /** Requests the API moved into a status (created, resumed, retried). */
  entered(status: RequestStatus, count = 1): void {
    if (count > 0) this.requests.inc({ status }, count);
  }

  /** The worker's reports, counted. */
  readonly observer: ExecutionObserver = {
    transition: (report) => {
      if (report.event !== 'released' && report.event !== 'continued') this.entered(report.status);
    },
    webhookCall: (report) => {
      this.calls.inc({ outcome: report.outcome });
      if (report.called) this.durations.observe(report.duration_ms / 1000);
    },
  };
}

/** GET /metrics, no auth, in the Prometheus text format. */
export async function metricsRoute(app: FastifyInstance, { metrics }: { metrics: ServerMetrics }): Promise<void> {
  app.get(
    '/metrics',
    {
      config: { auth: 'none' },
      schema: { tags: ['operations'], summary: 'Prometheus metrics', produces: ['text/plain'], response: { 200: { description: 'The Prometheus text format', type: 'string' } } },
    },
    async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
