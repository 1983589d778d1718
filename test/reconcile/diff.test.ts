/** The plan as a pure function: keyed list diffs, move counting, prune, conflicts. */
import { describe, expect, it } from 'vitest';
import { computePlan } from '../../src/reconcile/diff.js';
import { diffList } from '../../src/model/changes.js';
import type { DesiredState, DesiredWebhook } from '../../src/manifest/types.js';
import type { StoredState } from '../../src/state/config-store.js';
import type { Phase, StoredWebhook } from '../../src/model/types.js';
import { HookctlError } from '../../src/errors.js';

const span = { file: 'm.yaml', line: 3, column: 5, end_line: 3, end_column: 9 };
const hook = (key: string, extra: Partial<DesiredWebhook> = {}): DesiredWebhook => ({
  key,
  name: `${key} name`,
  connection_config_key: 'conn',
  direction: 'one_way',
  span,
  ...extra,
});
const stored = (policy_key: string, keys: string[], phase: Phase = 'pre'): StoredWebhook[] =>
  keys.map((key, order) => ({ ...hook(key), id: `pol_${key}`, policy_key, phase, order }));

const moves = (changes: ReturnType<typeof diffList>) => changes.filter((c) => c.action === 'move').map((c) => `${c.key}:${'from' in c ? c.from : ''}→${'to' in c ? c.to : ''}`);

describe('diffList', () => {
  it('a swap of the ends reports the two that moved, not the one that stayed', () => {
    expect(moves(diffList('p', 'pre', stored('p', ['a', 'b', 'c']), ['c', 'b', 'a'].map((k) => hook(k))))).toEqual(['c:2→0', 'a:0→2']);
  });

  it('moving one webhook to the end is one move', () => {
    expect(moves(diffList('p', 'pre', stored('p', ['a', 'b', 'c', 'd']), ['a', 'c', 'd', 'b'].map((k) => hook(k))))).toEqual(['b:1→3']);
  });

  it('positions shifted by a deletion or an insertion are not moves', () => {
    const changes = diffList('p', 'pre', stored('p', ['a', 'b', 'c']), ['x', 'b', 'c'].map((k) => hook(k)));
    expect(changes.map((c) => `${c.action} ${c.key}`)).toEqual(['delete a', 'create x']);
  });

  it('a changed field is one update, even when the webhook also moved', () => {
    const changes = diffList('p', 'pre', stored('p', ['a', 'b']), [hook('b', { direction: 'two_way' }), hook('a')]);
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatchObject({ action: 'update', key: 'b', from: 1, to: 0, fields: [{ field: 'direction', before: 'one_way', after: 'two_way' }] });
    expect(changes[1]).toMatchObject({ action: 'move', key: 'a' });
  });

  it('no change, no entries', () => {
    expect(diffList('p', 'pre', stored('p', ['a', 'b']), [hook('a'), hook('b')])).toEqual([]);
  });
});

function desired(policies: DesiredState['policies'], connections = ['conn']): DesiredState {
  return {
    connections: connections.map((key) => ({
      key,
      name: key,
      connection_type: 'https' as const,
      access: 'read' as const,
      description: null,
      disabled: false,
      timeout_ms: null,
      secrets: { url: { value: 'https://x.example.com' }, authorization: { ref: { env: 'T' }, baseDir: '/', root: '/' } },
      span,
    })),
    policies,
    files: ['m.yaml'],
    digest: 'd',
  };
}

function state(lists: Record<string, string[]>, opts: { origin?: 'manifest' | 'api'; connections?: string[] } = {}): StoredState {
  const fp = { url: 'u', authorization: 'a' };
  const now = '2026-01-01T00:00:00.000Z';
  return {
    serial: 7,
    state_id: 'st_test',
    connections: new Map(
      (opts.connections ?? ['conn']).map((key) => [
        key,
        { key, name: key, connection_type: 'https', access: 'read', description: null, disabled: false, timeout_ms: null, origin: 'manifest', secrets_encrypted: 'x', secret_fingerprints: fp, created_at: now, updated_at: now },
      ]),
    ),
    policies: new Map(Object.keys(lists).map((key) => [key, { key, name: key, origin: opts.origin ?? 'manifest', created_at: now, updated_at: now }])),
    webhooks: { pre: new Map(Object.entries(lists).map(([p, keys]) => [p, stored(p, keys)])), post: new Map(Object.keys(lists).map((p) => [p, []])) },
  };
}

const plan = (d: DesiredState, s: StoredState, prune = false) =>
  computePlan({ desired: d, fingerprints: new Map(d.connections.map((c) => [c.key, { url: 'u', authorization: 'a' }])), stored: s, prune, now: 'now' });

describe('computePlan', () => {
  it('counts adds, changes, deletes and moves as the contract says', () => {
    const p = plan(desired([{ key: 'p', name: 'p', pre_execution_webhooks: [hook('c'), hook('b', { name: 'renamed' }), hook('a'), hook('n')], span }]), state({ p: ['a', 'b', 'c', 'gone'] }));
    expect(p.summary).toEqual({ add: 1, change: 1, delete: 1, move: 2 }); // c and a swapped ends; b was renamed in place
    expect(p.state_serial).toBe(7);
  });

  it('[] over existing webhooks is marked destructive; an omitted list is not touched', () => {
    const p = plan(desired([{ key: 'p', name: 'p', pre_execution_webhooks: [], span }]), state({ p: ['a', 'b'] }));
    expect(p.writes.lists).toEqual([{ policy_key: 'p', phase: 'pre', next: [], destructive: true }]);
    expect(plan(desired([{ key: 'p', name: 'p', span }]), state({ p: ['a', 'b'] })).changes).toEqual([]);
  });

  it('unmanaged policies are reported; --prune deletes those apply created, with their webhooks, never API-created ones', () => {
    const d = desired([]);
    expect(plan(d, state({ old: ['a'] })).unmanaged).toEqual([{ kind: 'policy', key: 'old', origin: 'manifest', pruned: false }]);
    const pruned = plan(d, state({ old: ['a'] }), true);
    expect(pruned.writes.delete_policies).toEqual(['old']);
    expect(pruned.summary.delete).toBe(2);
    expect(plan(d, state({ old: ['a'] }, { origin: 'api' }), true).writes.delete_policies).toEqual([]);
  });

  it("refuses, at the manifest's position, a key that an unmanaged policy's list holds", () => {
    const d = desired([{ key: 'mine', name: 'mine', pre_execution_webhooks: [hook('taken')], span }]);
    try {
      plan(d, state({ other: ['taken'] }));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HookctlError);
      expect((err as HookctlError).message).toMatch(/^m\.yaml:3:5: policy 'mine' pre_execution_webhooks: Webhook key 'taken' already belongs to Policy 'other'/);
    }
  });

  it('a key may move between two managed lists in one plan', () => {
    const d = desired([
      { key: 'a', name: 'a', pre_execution_webhooks: [], span },
      { key: 'b', name: 'b', pre_execution_webhooks: [hook('k')], span },
    ]);
    const p = plan(d, state({ a: ['k'], b: [] }));
    expect(p.changes.map((c) => `${c.action} ${c.kind} ${c.key}`)).toEqual(['delete webhook k', 'create webhook k']);
  });

  it('pruning a connection that an unmanaged list still uses is refused', () => {
    const d = desired([], ['other']);
    expect(() => plan(d, state({ keep: ['a'] }, { origin: 'api', connections: ['conn', 'other'] }), true)).toThrow(/cannot prune connection 'conn'/);
  });

  it('a changed secret fingerprint is a sensitive change; no values are in the plan', () => {
    const d = desired([]);
    const p = computePlan({ desired: d, fingerprints: new Map([['conn', { url: 'u', authorization: 'CHANGED' }]]), stored: state({}), prune: false, now: 'now' });
    expect(p.changes).toEqual([{ kind: 'connection', action: 'update', key: 'conn', fields: [{ field: 'secrets.authorization', sensitive: true }] }]);
    expect(p.writes.connections[0]).toMatchObject({ key: 'conn', write_secrets: true });
  });
});
