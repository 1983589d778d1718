/** Creating, reading and listing privacy requests (no execution), on SQLite and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivacyRequests, getPrivacyRequest, listPrivacyRequests } from '../../src/engine/service.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends } from '../helpers/backends.js';
import { openBackend, seedPolicy, served } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('engine_service');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('%s: privacy request service', (backendName) => {
  let db: Database;
  let policyKey: string;

  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === backendName)!);
    ({ policyKey } = await seedPolicy(db.knex, {}));
  });
  afterAll(async () => db.close());

  it('queues valid requests as pending and reports each invalid one with its data', async () => {
    const items = [
      { policy_key: policyKey, identity: { email: 'a@example.com' }, external_id: 'ext-1' },
      { policy_key: 'no_such_policy', identity: { email: 'b@example.com' } },
      { policy_key: policyKey, identity: {} },
      { policy_key: policyKey, identity: { email: null, phone_number: null } },
      { policy_key: policyKey, identity: { ssn: '123' } as never },
      { policy_key: policyKey, identity: { phone_number: '+15555550100' } },
      { policy_key: policyKey } as never,
    ];
    const { succeeded, failed } = await createPrivacyRequests(db, items);
    expect(failed).toEqual([
      { message: 'Policy with key no_such_policy does not exist', data: items[1] },
      { message: 'You must provide at least one identity to process', data: items[2] },
      { message: 'You must provide at least one identity to process', data: items[3] },
      { message: 'identity.ssn: extra fields not permitted', data: items[4] },
      { message: 'identity: value is not a valid dict', data: items[6] },
    ]);
    expect(succeeded).toHaveLength(2);
    const [first] = succeeded;
    expect(first).toStrictEqual({
      id: expect.stringMatching(/^pri_[0-9a-f-]{36}$/),
      policy_key: policyKey,
      status: 'pending',
      identity: { email: 'a@example.com', phone_number: null },
      external_id: 'ext-1',
      requested_at: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      started_processing_at: null,
      finished_processing_at: null,
      paused_at: null,
      resume_endpoint: null,
      failure_reason: null,
      timeline: [],
    });
    expect(await served(getPrivacyRequest(db, first!.id))).toEqual({ status: 200, body: first });
    expect(succeeded[1]!.identity).toEqual({ email: null, phone_number: '+15555550100' });
  });

  it('answers 404 for an unknown request', async () => {
    expect(await served(getPrivacyRequest(db, 'pri_unknown'))).toEqual({ status: 404, body: { detail: "No privacy request found with id 'pri_unknown'." } });
  });

  it('lists newest first, paginated, filtered by status and id prefix', async () => {
    const { succeeded } = await createPrivacyRequests(
      db,
      Array.from({ length: 5 }, (_, i) => ({ policy_key: policyKey, identity: { email: `list-${i}@example.com` } })),
    );
    await db.knex('privacy_requests').where({ id: succeeded[0]!.id }).update({ status: 'complete', created_at: '2999-01-01T00:00:00.000Z' });

    const all = await listPrivacyRequests(db, { size: 3 });
    expect(all.total).toBe(7);
    expect(all.page).toBe(1);
    expect(all.size).toBe(3);
    expect(all.items).toHaveLength(3);
    expect(all.items[0]!.id).toBe(succeeded[0]!.id);
    const page3 = await listPrivacyRequests(db, { page: 3, size: 3 });
    expect(page3.items).toHaveLength(1);
    const seen = new Set([...all.items, ...(await listPrivacyRequests(db, { page: 2, size: 3 })).items, ...page3.items].map((v) => v.id));
    expect(seen.size).toBe(7);

    const complete = await listPrivacyRequests(db, { status: ['complete'] });
    expect(complete.items.map((v) => v.id)).toEqual([succeeded[0]!.id]);
    const target = succeeded[3]!.id;
    expect((await listPrivacyRequests(db, { id: target.slice(0, 20) })).items.map((v) => v.id)).toEqual([target]);
    // `_` in the id is literal, not a LIKE wildcard.
    expect((await listPrivacyRequests(db, { id: 'pri%' })).total).toBe(0);
    expect((await listPrivacyRequests(db, { id: 'pr__' })).total).toBe(0);
  });
});
