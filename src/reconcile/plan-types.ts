/**
 * The plan document: what `plan --json` prints and `plan --out` saves, and what `apply` executes.
 * It carries the desired configuration (secrets as the manifest's refs, with keyed fingerprints of
 * their resolved values), never a secret value.
 */
import type { SecretInput } from '../manifest/types.js';
import type { ConnectionConfig, HttpsSecrets, Origin, Phase, Policy, Webhook } from '../model/types.js';
import type { ChangeSummary, ResourceChange } from '../model/changes.js';

/** 2: secret fingerprints bound to connection and field; file refs carry their manifest root. */
export const PLAN_FORMAT_VERSION = 2;

export type SecretFingerprints = Record<keyof HttpsSecrets, string>;

export interface PlannedConnection extends ConnectionConfig {
  /** Secrets are (re)written: new connection, or a fingerprint differs from the stored one. */
  write_secrets: boolean;
}

export interface PlannedList {
  policy_key: string;
  phase: Phase;
  next: Webhook[];
  /** `[]` where webhooks exist: everything in the list goes. */
  destructive: boolean;
}

export interface Plan {
  format_version: typeof PLAN_FORMAT_VERSION;
  created_at: string;
  /** The state serial the plan was made against: apply refuses (exit 6) if it moved. */
  state_serial: number;
  /** The state database it was made against: another one refuses it (exit 6). */
  state_id: string;
  manifest_digest: string;
  prune: boolean;
  changes: ResourceChange[];
  summary: ChangeSummary;
  unmanaged: { kind: 'connection' | 'policy'; key: string; origin: Origin; pruned: boolean }[];
  /** What apply writes: only resources and lists that change. */
  writes: {
    connections: PlannedConnection[];
    policies: Policy[];
    lists: PlannedList[];
    delete_policies: string[];
    delete_connections: string[];
  };
  /** Every declared connection's secret fingerprints, re-checked at apply time. */
  secret_fingerprints: Record<string, SecretFingerprints>;
  /** Secret refs as declared, to re-resolve them at apply time. */
  secret_refs: Record<string, Record<keyof HttpsSecrets, SecretInput>>;
  /** Made against a Fides server (`--fides-url`) rather than hookctl's own state. */
  fides?: FidesPlanTarget;
}

export interface FidesPlanTarget {
  /** The normalized server URL: a saved plan applies to this server only. */
  target: string;
  /** The server's version from /health; null for fidesops 1.x. */
  server_version: string | null;
  /** Digest of each live resource the plan changes (absent: it is not there), re-checked by apply --plan. */
  live_digests: Record<string, string | null>;
  /** What a reviewer should know that the changes do not show (a delete the server will refuse, say). */
  notes: string[];
}
