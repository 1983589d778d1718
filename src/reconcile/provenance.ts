/**
 * What the revision history tells a plan about the stored state: which resources were changed
 * through the API since hookctl's last apply (drift), and which stored URLs are literals that a
 * manifest wrote (so in git, and shown as values when they change).
 */
import type { StoredState } from '../state/config-store.js';
import type { Queryable } from '../state/queryable.js';
import { secretFingerprint } from '../state/crypto.js';
import { lastApplySerial, readApiRevisions, readAppliedConnectionChanges } from '../state/history.js';
import type { Keys } from '../state/keys.js';
import { PHASES, type Phase } from '../model/types.js';
import type { ResourceChange } from '../model/changes.js';

export interface Provenance {
  /** Resource ids (see resourceId) changed through the API since the last apply. */
  drifted: Set<string>;
  /** Connection key → its stored URL, where that is a literal an apply recorded. */
  literalUrls: Map<string, string>;
}

export const NO_PROVENANCE: Provenance = { drifted: new Set(), literalUrls: new Map() };

/** A webhook's id is its list's: a list the API rewrote is drift whichever of its webhooks the plan moves back. */
export function resourceId(c: { kind: ResourceChange['kind']; key: string; policy_key?: string; phase?: Phase }): string {
  return c.kind === 'webhook' ? `list/${c.policy_key}/${c.phase}` : `${c.kind}/${c.key}`;
}

/** `stored` must carry current fingerprints (refreshFingerprints). */
export async function readProvenance(q: Queryable, keys: Keys, stored: StoredState): Promise<Provenance> {
  const drifted = new Set<string>();
  for (const rev of await readApiRevisions(q, await lastApplySerial(q))) {
    for (const c of rev.changes as ResourceChange[]) {
      drifted.add(resourceId(c));
      // A policy deleted through the API took its lists with it.
      if (c.kind === 'policy' && c.action === 'delete') for (const phase of PHASES) drifted.add(resourceId({ kind: 'webhook', key: '', policy_key: c.key, phase }));
    }
  }

  // The newest URL each apply recorded per connection; shown only if the stored one is still that
  // value (its fingerprint matches), whatever wrote it since.
  const literalUrls = new Map<string, string>();
  const decided = new Set<string>();
  for (const c of await readAppliedConnectionChanges(q)) {
    if (c.kind !== 'connection' || decided.has(c.key)) continue;
    const url = c.fields.find((f) => f.field === 'secrets.url');
    if (!url && c.action !== 'delete') continue;
    decided.add(c.key);
    const fp = stored.connections.get(c.key)?.secret_fingerprints.url;
    if (typeof url?.after === 'string' && fp === secretFingerprint(keys.fingerprint, c.key, 'url', url.after)) literalUrls.set(c.key, url.after);
  }
  return { drifted, literalUrls };
}
