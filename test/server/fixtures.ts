/**
 * The upstream test fixtures (reference §8), created through the API: the https connection
 * `my_webhook_config`, the policies `example_access_request_policy` and `example_erasure_policy`,
 * two pre-execution and two post-execution webhooks on the access policy.
 */
import { expect } from 'vitest';
import { expectStatus, type TestServer } from './api.js';

export const CONNECTION = 'my_webhook_config';
export const POLICY = 'example_access_request_policy';
export const ERASURE_POLICY = 'example_erasure_policy';
export const SECRET_URL = 'https://example.com/hooks/privacy?sig=url-secret-1234';
export const SECRET_AUTHORIZATION = 'Bearer test_authorization-secret-5678';

export const PRE_ONE_WAY = { key: 'pre_execution_one_way_webhook', name: 'Pre one way webhook', direction: 'one_way' } as const;
export const PRE_TWO_WAY = { key: 'pre_execution_two_way_webhook', name: 'Pre two way webhook', direction: 'two_way' } as const;
export const POST_CACHE = { key: 'cache_busting_webhook', name: 'Cache busting webhook', direction: 'one_way' } as const;
export const POST_CLEANUP = { key: 'cleanup_webhook', name: 'Cleanup webhook', direction: 'one_way' } as const;

export const pre = (policy = POLICY) => `/api/v1/policy/${policy}/webhook/pre_execution`;
export const post = (policy = POLICY) => `/api/v1/policy/${policy}/webhook/post_execution`;

export async function seedFixtures(s: TestServer): Promise<void> {
  expectStatus(
    await s.request('PATCH', '/api/v1/connection', {
      body: [{ key: CONNECTION, name: 'My webhook config', connection_type: 'https', access: 'read' }],
    }),
    200,
  );
  expectStatus(await s.request('PUT', `/api/v1/connection/${CONNECTION}/secret`, { body: { url: SECRET_URL, authorization: SECRET_AUTHORIZATION } }), 200);
  expectStatus(
    await s.request('PATCH', '/api/v1/policy', {
      body: [
        { key: POLICY, name: 'Example access request policy' },
        { key: ERASURE_POLICY, name: 'Example erasure policy' },
      ],
    }),
    200,
  );
  const item = (w: { key: string; name: string; direction: string }) => ({ ...w, connection_config_key: CONNECTION });
  expectStatus(await s.request('PUT', pre(), { body: [item(PRE_ONE_WAY), item(PRE_TWO_WAY)] }), 200);
  expectStatus(await s.request('PUT', post(), { body: [item(POST_CACHE), item(POST_CLEANUP)] }), 200);
}

/** The connection as every webhook response embeds it: no secrets. */
export const EMBEDDED_CONNECTION = {
  name: 'My webhook config',
  key: CONNECTION,
  description: null,
  connection_type: 'https',
  access: 'read',
  created_at: expect.any(String),
  updated_at: expect.any(String),
  disabled: false,
  last_test_timestamp: null,
  last_test_succeeded: null,
  saas_config: null,
};

export function webhookResponse(w: { key: string; name: string; direction: string }, order: number) {
  return { direction: w.direction, key: w.key, name: w.name, connection_config: EMBEDDED_CONNECTION, order };
}
