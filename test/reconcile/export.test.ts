import { describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/reconcile/export.js';
import type { StoredState } from '../../src/state/config-store.js';

const now = '2026-01-01T00:00:00.000Z';
const conn = (key: string) => ({
  key, name: key, connection_type: 'https' as const, access: 'read' as const, description: null, disabled: false, timeout_ms: null,
  origin: 'manifest' as const, secrets_encrypted: 'x', secret_fingerprints: {}, created_at: now, updated_at: now,
});

describe('exportManifests', () => {
  it('gives connections whose keys differ only in punctuation distinct variable names', () => {
    const state: StoredState = { serial: 1, state_id: 'st', connections: new Map([['a.b', conn('a.b')], ['a_b', conn('a_b')]]), policies: new Map(), webhooks: { pre: new Map(), post: new Map() } };
    const names = exportManifests(state).variables.map((v) => v.env);
    expect(names).toEqual(['HOOKCTL_SECRET_A_B_URL', 'HOOKCTL_SECRET_A_B_AUTHORIZATION', 'HOOKCTL_SECRET_A_B_URL_2', 'HOOKCTL_SECRET_A_B_AUTHORIZATION_2']);
    expect(new Set(names).size).toBe(4);
  });
});
