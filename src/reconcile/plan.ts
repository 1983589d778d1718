import type { DesiredState } from '../manifest/types.js';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { readState, refreshFingerprints } from '../state/config-store.js';
import { inSnapshot } from '../state/queryable.js';
import { computePlan } from './diff.js';
import type { Plan } from './plan-types.js';
import { readProvenance } from './provenance.js';
import { resolveDeclaredSecrets } from './secrets.js';

/** Resolve the declared secrets (exit 1 naming every unresolvable ref), read the state and its history, diff. */
export async function makePlan(
  db: Database,
  keys: Keys,
  desired: DesiredState,
  opts: { prune: boolean; env: Record<string, string | undefined>; secretsDirs?: readonly string[] },
): Promise<Plan> {
  const { fingerprints } = resolveDeclaredSecrets(desired, keys, opts);
  // One read transaction: the history matches the state it labels.
  return inSnapshot(db.knex, async (trx) => {
    const stored = await readState(trx);
    refreshFingerprints(keys, stored.connections);
    const provenance = await readProvenance(trx, keys, stored);
    return computePlan({ desired, fingerprints, stored, prune: opts.prune, now: new Date().toISOString(), provenance });
  });
}
