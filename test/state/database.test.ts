import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { openDatabase, parseDatabaseUrl } from '../../src/state/database.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('database');
});
afterAll(async () => env.drop());

describe.each([['sqlite'], ['postgres']] as const)('%s state database', (name) => {
  const backend = (): Backend => env.backends.find((b) => b.name === name)!;

  it('creates the schema by migration, and migrating again changes nothing', async () => {
    const db = await openDatabase(parseDatabaseUrl(backend().url, backend().dir));
    await db.close();
    const again = await openDatabase(parseDatabaseUrl(backend().url, backend().dir));
    const serial = await again.knex('hookctl_meta').where({ name: 'serial' }).first();
    expect(serial?.value).toBe('0');
    await again.close();
  });
});
