/**
 * The worker's webhook lists, cached per configuration serial (WebhookListCache,
 * config-source.ts): steps of one configuration share one read, and a change made by `apply`
 * while the worker runs is what the next step runs — including a paused request's remaining
 * webhooks and a connection's new URL. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookListCache } from '../../src/engine/webhook-list-cache.js';
import type { RequestView } from '../../src/engine/request-views.js';
import { createPrivacyRequests, getPrivacyRequest, resumePrivacyRequest } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { loadManifests } from '../../src/manifest/load.js';
import { applyManifests } from '../../src/reconcile/apply.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends } from '../helpers/backends.js';
import { Receiver, keys, openBackend, seedPolicy, served, waitFor } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
let dir: string;
beforeAll(async () => {
  env = await freshBackends('engine_list_cache');
  receiver = await Receiver.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-list-cache-'));
});
afterAll(async () => {
  await receiver.close();
  await env.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(['sqlite', 'postgres'] as const)('%s: webhook lists of the worker', (backendName) => {
  let db: Database;
  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === backendName)!);
  });
  afterAll(async () => db.close());

  it('are read once per serial: the same serial shares the read, another serial reads again', async () => {
    const hook = (key: string) => ({ key, direction: 'one_way' as const, url: 'http://127.0.0.1:9/hook' });
    const { policyKey, ids } = await seedPolicy(db.knex, { pre: [hook('a'), hook('b')] });
    const cache = new WebhookListCache(db, keys);
    let selects = 0;
    const count = (q: { sql: string }) => void (/^select/i.test(q.sql) && (selects += 1));
    db.knex.on('query', count);
    const lists = await Promise.all([cache.read(policyKey, 'pre', 1), cache.read(policyKey, 'pre', 1), cache.read(policyKey, 'pre', 1)]);
    expect(selects).toBe(1);
    expect(lists.map((list) => list.map((h) => h.key))).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b']]);
    expect(lists[0]![0]!.secrets).toEqual({ url: 'http://127.0.0.1:9/hook', authorization: expect.any(String) });

    await db.knex('webhooks').where({ id: ids.get('b') }).del();
    expect((await cache.read(policyKey, 'pre', 2)).map((h) => h.key)).toEqual(['a']);
    db.knex.off('query', count);
    expect(selects).toBe(2);
  });

  it('follow each apply made while the worker runs: new webhooks after a pause, removed ones, a new URL', async () => {
    const policy = `cache_${backendName}`;
    const halting = receiver.endpoint([{ status: 200, body: { halt: true } }, { status: 200, body: {} }]);
    const endpoint = () => receiver.endpoint({ status: 200, body: { halt: false } });
    const [added, removed, before, after] = [endpoint(), endpoint(), endpoint(), endpoint()];
    const apply = async (pre: [string, string][], post: [string, string][]) => {
      const connections = [...pre, ...post].map(([key, target]) => `  - { key: ${key}, name: ${key}, connection_type: https, secrets: { url: "${target}", authorization: { env: HOOK_AUTH } } }`);
      const list = (hooks: [string, string][]) => hooks.map(([key]) => `      - { key: ${key}_hook, name: ${key} hook, connection_config_key: ${key}, direction: two_way }`);
      const file = path.join(dir, `${policy}.yaml`);
      const lines = ['connection:', ...connections, 'policy:', `  - key: ${policy}`, `    name: ${policy}`, '    pre_execution_webhooks:', ...list(pre), '    post_execution_webhooks:', ...(post.length ? list(post) : ['      []'])];
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      const { state, diagnostics } = loadManifests([file], { cwd: dir });
      expect(diagnostics).toEqual([]);
      await applyManifests(db, keys, state!, { lockTimeoutMs: 5000, actor: 'test', env: { HOOK_AUTH: 'Bearer t' }, prune: true, approve: async () => true });
    };
    const view = async (id: string): Promise<RequestView> => {
      const result = await served(getPrivacyRequest(db, id));
      if (result.status !== 200) throw new Error(`no request ${id}`);
      return result.body;
    };
    const until = (id: string, status: string) => waitFor(`${id} to be ${status}`, async () => ((await view(id)).status === status ? true : undefined));
    const create = async () => (await createPrivacyRequests(db, [{ policy_key: policy, identity: { email: 'cache@example.com' } }])).succeeded[0]!.id;

    await apply([['halting', halting]], [['removed', removed]]);
    const worker = new Worker(db, keys, { pollMs: 25, webhookTimeoutMs: 3_000 });
    worker.start();
    try {
      const first = await create();
      await until(first, 'paused');

      // While it is paused: a webhook after the halting one, the post one removed.
      await apply([['halting', halting], ['moving', before]], []);
      const token = receiver.callsTo(halting)[0]!.headers['reply-to-token'] as string;
      expect((await served(resumePrivacyRequest(db, keys, first, `Bearer ${token}`, {}))).status).toBe(200);
      await until(first, 'complete');
      expect(receiver.callsTo(before).map((c) => (c.body as { privacy_request_id: string }).privacy_request_id)).toEqual([first]);
      expect(receiver.callsTo(removed)).toEqual([]);

      // The same webhook's connection now points elsewhere; a post webhook comes back.
      await apply([['halting', halting], ['moving', after]], [['added', added]]);
      const second = await create();
      await until(second, 'complete');
      expect(receiver.callsTo(before)).toHaveLength(1);
      expect(receiver.callsTo(after).map((c) => (c.body as { privacy_request_id: string }).privacy_request_id)).toEqual([second]);
      expect(receiver.callsTo(added).map((c) => (c.body as { privacy_request_id: string }).privacy_request_id)).toEqual([second]);
    } finally {
      await worker.stop();
    }
  });
});
