/**
 * Shared webhook list reads (WebhookListReads, config-source.ts): steps that start together
 * share a query, yet each step sees the list as it is once the step has started. SQLite and
 * PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookListReads } from '../../src/engine/config-source.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends } from '../helpers/backends.js';
import { keys, openBackend, seedPolicy } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('engine_list_reads');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('webhook list reads on %s', (backendName) => {
  let db: Database;
  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === backendName)!);
  });
  afterAll(async () => db.close());

  const hook = (key: string) => ({ key, direction: 'one_way' as const, url: 'http://127.0.0.1:9/hook' });

  it('share one query among the steps that start while a read runs; a later step reads again', async () => {
    const { policyKey, ids } = await seedPolicy(db.knex, { pre: [hook('a'), hook('b')], post: [hook('c')] });
    const reads = new WebhookListReads(db.knex, keys);
    let selects = 0;
    const count = (q: { sql: string }) => void (/^select/i.test(q.sql) && (selects += 1));
    db.knex.on('query', count);
    // The first starts at once; the two pre steps that start while it runs share the next read.
    const lists = await Promise.all([reads.read(policyKey, 'pre'), reads.read(policyKey, 'pre'), reads.read(policyKey, 'pre'), reads.read(policyKey, 'post')]);
    db.knex.off('query', count);
    expect(lists.map((list) => list.map((h) => h.key))).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b'], ['c']]);
    expect(lists[3]![0]!.secrets).toEqual({ url: 'http://127.0.0.1:9/hook', authorization: expect.any(String) });
    expect(selects).toBe(3);

    await db.knex('webhooks').where({ id: ids.get('b') }).del();
    expect((await reads.read(policyKey, 'pre')).map((h) => h.key)).toEqual(['a']);
  });
});
