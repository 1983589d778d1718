/**
 * Health probes, at the root (where Fides serves them and load balancers look) and under the
 * API prefix; no auth. The database probe answers 503 when the state does not answer in time.
 */
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../state/database.js';
import { hookctlVersion } from '../../version.js';

/** How long the database probe waits for `SELECT 1`. */
const DATABASE_PROBE_TIMEOUT_MS = 2_000;

export async function healthRoutes(app: FastifyInstance, { db, prefixes }: { db: Database; prefixes: readonly string[] }): Promise<void> {
  const version = hookctlVersion();
  for (const prefix of prefixes) {
    app.get(`${prefix}/health`, { config: { auth: 'none' }, schema: { summary: 'Liveness: the web server answers' } }, async () => ({ status: 'healthy', webserver: 'healthy', version }));
    app.get(`${prefix}/health/database`, { config: { auth: 'none' }, schema: { summary: 'Readiness: the state database answers (else 503)' } }, async (_req, reply) => {
      const healthy = await databaseAnswers(db);
      return reply.code(healthy ? 200 : 503).send({ database: healthy ? 'healthy' : 'unhealthy' });
    });
  }
}

async function databaseAnswers(db: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), DATABASE_PROBE_TIMEOUT_MS)));
  try {
    return await Promise.race([db.knex.raw('SELECT 1').then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
