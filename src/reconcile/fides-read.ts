/**
 * What is there on a Fides server, read into the stored-state shape the diff works on, with the
 * provenance (drift) that this target's bookkeeping tells. Only https connections are read.
 */
import crypto from 'node:crypto';
import type { FidesClient } from '../fides/client.js';
import type { StoredConnection, StoredPolicy, StoredState } from '../state/config-store.js';
import { secretFingerprint } from '../state/crypto.js';
import type { TargetResource } from '../state/fides-targets.js';
import type { Keys } from '../state/keys.js';
import { PHASES, type Phase, type StoredWebhook, type Webhook } from '../model/types.js';
import { connectionConfig } from '../model/changes.js';
import { compareKeys } from '../model/keys.js';
import { PHASE_NAMES } from '../model/phases.js';
import { resourceId, type Provenance } from './provenance.js';

/** Fides' mask of a sensitive secret in every response. */
const MASKED = '**********';

export interface LiveConnection {
  key: string;
  name: string | null;
  connection_type: string;
  access: string;
  description?: string | null;
  disabled?: boolean | null;
  timeout_ms?: number | null;
  secrets?: Record<string, unknown> | null;
}

export interface LivePolicy {
  key: string;
  name: string;
  drp_action?: string | null;
  execution_timeframe?: number | null;
}

interface LiveWebhook {
  key: string;
  name: string;
  direction: 'one_way' | 'two_way';
  order: number;
  connection_config: { key: string };
}

export interface LiveState {
  target: string;
  version: string | null;
  /** `/api/v1/dsr/policy`, or fidesops' `/api/v1/policy`. */
  policyPrefix: string;
  stored: StoredState;
  policies: Map<string, LivePolicy>;
  /** Connection key → its url, where the server returns it in clear. */
  clearUrls: Map<string, string>;
  /** Resource id → digest of what is there now (see digestOf). */
  digests: Map<string, string>;
  provenance: Provenance;
}

/** Reads the server: connections, policies, then both lists of every policy, `parallelism` calls at a time. */
export async function readLive(client: FidesClient, keys: Keys, bookkeeping: { serial: number; stateId: string }, records: Map<string, TargetResource>): Promise<LiveState> {
  const version = await client.serverVersion();
  const policyPrefix = await client.policyPrefix();
  const [allConnections, livePolicies] = await Promise.all([
    client.getAll<LiveConnection>('/api/v1/connection', 'connection'),
    client.getAll<LivePolicy>(policyPrefix, 'policy'),
  ]);
  const lists = await client.mapBounded(
    livePolicies.flatMap((p) => PHASES.map((phase) => ({ policy: p.key, phase }))),
    async ({ policy, phase }) => ({
      policy,
      phase,
      items: await client.getAll<LiveWebhook>(`${policyPrefix}/${encodeURIComponent(policy)}/webhook/${PHASE_NAMES[phase].pathSegment}`, 'webhook', 50),
    }),
  );

  const clearUrls = new Map<string, string>();
  const connections = new Map<string, StoredConnection>();
  for (const c of allConnections.filter((x) => x.connection_type === 'https').sort(compareKeys)) {
    const record = records.get(`connection/${c.key}`);
    const url = c.secrets?.url;
    if (typeof url === 'string' && url !== MASKED) clearUrls.set(c.key, url);
    const fingerprints: StoredConnection['secret_fingerprints'] = {};
    // The url where the server shows it; otherwise, like authorization (always masked), what hookctl last set.
    const urlFp = typeof url === 'string' && url !== MASKED ? secretFingerprint(keys.fingerprint, c.key, 'url', url) : record?.fp_url;
    if (urlFp) fingerprints.url = urlFp;
    if (record?.fp_authorization) fingerprints.authorization = record.fp_authorization;
    connections.set(c.key, {
      key: c.key,
      name: c.name ?? '',
      connection_type: 'https',
      access: c.access === 'write' ? 'write' : 'read',
      description: c.description ?? null,
      disabled: c.disabled ?? false,
      timeout_ms: c.timeout_ms ?? null,
      origin: record?.created ? 'manifest' : 'api',
      secrets_encrypted: null,
      secret_fingerprints: fingerprints,
      created_at: '',
      updated_at: '',
    });
  }

  const policies = new Map<string, StoredPolicy>();
  const policyByKey = new Map<string, LivePolicy>();
  for (const p of [...livePolicies].sort(compareKeys)) {
    policyByKey.set(p.key, p);
    policies.set(p.key, { key: p.key, name: p.name, origin: records.get(`policy/${p.key}`)?.created ? 'manifest' : 'api', created_at: '', updated_at: '' });
  }
  const webhooks = { pre: new Map(), post: new Map() } as StoredState['webhooks'];
  for (const phase of PHASES) for (const key of policies.keys()) webhooks[phase].set(key, []);
  for (const { policy, phase, items } of lists) {
    const sorted = [...items].sort((a, b) => a.order - b.order);
    webhooks[phase].set(
      policy,
      sorted.map(
        (w, order): StoredWebhook => ({
          id: `${policy}/${phase}/${w.key}`,
          policy_key: policy,
          phase,
          key: w.key,
          name: w.name,
          connection_config_key: w.connection_config.key,
          direction: w.direction,
          order,
        }),
      ),
    );
  }
  const stored: StoredState = { serial: bookkeeping.serial, state_id: bookkeeping.stateId, connections, policies, webhooks };
  const digests = liveDigests(stored);
  return { target: client.target, version, policyPrefix, stored, policies: policyByKey, clearUrls, digests, provenance: driftOf(keys, digests, records, clearUrls) };
}

/** Digest of every resource as it is on the server. */
function liveDigests(stored: StoredState): Map<string, string> {
  const digests = new Map<string, string>();
  for (const c of stored.connections.values()) digests.set(resourceId({ kind: 'connection', key: c.key }), connectionDigest(c));
  for (const p of stored.policies.values()) {
    digests.set(resourceId({ kind: 'policy', key: p.key }), policyDigest(p.name));
    for (const phase of PHASES) digests.set(listId(p.key, phase), listDigest(stored.webhooks[phase].get(p.key) ?? []));
  }
  return digests;
}

export function listId(policy_key: string, phase: Phase): string {
  return resourceId({ kind: 'webhook', key: '', policy_key, phase });
}

/** The non-secret fields hookctl manages (secrets are compared by fingerprint). */
export function connectionDigest(c: Parameters<typeof connectionConfig>[0]): string {
  return digest(connectionConfig(c));
}

export function policyDigest(name: string): string {
  return digest({ name });
}

export function listDigest(list: readonly Webhook[]): string {
  return digest(list.map((w) => [w.key, w.name, w.direction, w.connection_config_key]));
}

function digest(value: unknown): string {
  return `sha256:${crypto.createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 32)}`;
}

/**
 * Drift: a resource whose live digest differs from the one recorded at hookctl's last apply to
 * this target (gone counts), or whose clear url differs from the url hookctl last set.
 */
function driftOf(keys: Keys, digests: Map<string, string>, records: Map<string, TargetResource>, clearUrls: Map<string, string>): Provenance {
  const drifted = new Set<string>();
  for (const [id, record] of records) {
    if (record.digest !== null && digests.get(id) !== record.digest) drifted.add(id);
  }
  for (const [key, url] of clearUrls) {
    const fp = records.get(`connection/${key}`)?.fp_url;
    if (fp && fp !== secretFingerprint(keys.fingerprint, key, 'url', url)) drifted.add(`connection/${key}`);
  }
  return { drifted, literalUrls: new Map() };
}
