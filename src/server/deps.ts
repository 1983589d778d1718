/**
 * What every route plugin is given, and the route options the server understands: routes take
 * their dependencies from here, never from the app that registers them.
 */
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import type { RootClient, Scope } from './auth.js';
import type { ServerMetrics } from './metrics.js';

/**
 * Privacy requests are executed by the engine's Worker, which `serve` runs beside the server;
 * the engine wakes it when a request is queued or resumed.
 */
export interface ServerDeps {
  db: Database;
  keys: Keys;
  /** The root OAuth client; without one, POST /oauth/token always answers 401. */
  rootClient?: RootClient;
  /** How long a write waits for the state lock held by an apply before answering 503 (default 10 s). */
  lockTimeoutMs?: number;
  /** `publicUrl` + API_PREFIX: what the relative endpoints of responses are relative to, as in Fides. */
  publicApiUrl?: string;
  metrics: ServerMetrics;
}

export const API_PREFIX = '/api/v1';

/**
 * How a route authenticates: a scope of an API token; `reply-token` (the resume route: only
 * the presence of a bearer is checked here, the engine checks the reply-to token itself);
 * or `none`. Every route must say: a route that forgets fails at startup, not open.
 */
export type RouteAuth = Scope | 'reply-token' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyInstance {
    /** This server's Prometheus metrics; `serve` hands their observer to its worker. */
    metrics: ServerMetrics;
  }
  interface FastifyRequest {
    /** The `client_id` of the request's API token, once the token is verified. */
    apiClientId: string | null;
  }
}
