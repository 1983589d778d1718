/**
 * What `serve` logs: structured lines with method, URL and status, never an Authorization
 * header, a token or a secret value, also when a request fails with a 500.
 */
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY } from '../helpers/backends.js';
import { buildServer } from '../../src/server/app.js';
import { issueApiToken, SCOPES } from '../../src/server/auth.js';
import { serverLoggerOptions } from '../../src/server/logging.js';
import { openDatabase, parseDatabaseUrl } from '../../src/state/database.js';
import { deriveKeys, parseMasterKey } from '../../src/state/keys.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_logging');
});
afterAll(async () => env.drop());

it('logs requests and failures without credentials or secret values; a 500 says only Internal Server Error', async () => {
  const backend = env.backends.find((b) => b.name === 'sqlite')!;
  const db = await openDatabase(parseDatabaseUrl(backend.url, backend.dir));
  const keys = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'test key'));
  let logs = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  const app = await buildServer({ db, keys, logger: serverLoggerOptions(sink) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const token = await issueApiToken(keys, SCOPES, 60_000, 'logging-test');
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'reply-to-token': 'reply-token-value-55' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    expect((await send('PATCH', '/api/v1/connection', [{ key: 'c', name: 'C', connection_type: 'https' }])).status).toBe(200);
    const secret = { url: 'https://example.com/hook?sig=url-secret-99', authorization: 'authorization-secret-99' };
    expect((await send('PUT', '/api/v1/connection/c/secret', secret)).status).toBe(200);

    await db.close(); // every query now fails: the unexpected-error path
    const failed = await send('PUT', '/api/v1/connection/c/secret', secret);
    expect([failed.status, await failed.json()]).toEqual([500, { detail: 'Internal Server Error' }]);
  } finally {
    await app.close();
  }

  const lines = logs.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; err?: { message: string } });
  expect(lines.some((l) => l.msg === 'request failed' && l.err?.message)).toBe(true);
  expect(logs).toContain('"url":"/api/v1/connection/c/secret"');
  for (const value of [token, 'url-secret-99', 'authorization-secret-99', 'reply-token-value-55']) expect(logs).not.toContain(value);
});
