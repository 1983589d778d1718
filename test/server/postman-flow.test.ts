/**
 * The policy-webhook flow of Fides' official Postman collection
 * (docs/fides/docs/development/postman/Fides.postman_collection.json in ethyca/fides), sent the
 * way Postman sends it: the root token from a multipart form, then the collection's JSON bodies
 * and paths (trailing slashes, `verbose=True` included) with that token as the bearer. Every
 * answer must be 2xx, and the state must be what the flow built, on both backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { ROOT_CLIENT, startServer, type TestServer } from './api.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_postman_flow');
});
afterAll(async () => env.drop());

// The collection's variables.
const host = '/api/v1';
const policy_key = 'my_primary_policy';
const http_connection_key = 'my_http_connection';
const pre_webhook_one = 'wake_up_snowflake_db';
const pre_webhook_two = 'prep_systems_webhook';
const post_webhook_one = 'cache_busting_webhook';
const post_webhook_two = 'finalize_privacy_request';

/**
 * "Update HTTPS Connection Secrets" sends `"url": "example.com"`, which hookctl refuses at once
 * (Fides stores it and fails when the webhook runs): the flow sends the URL with its scheme.
 */
const WEBHOOK_URL = 'https://example.com';
const WEBHOOK_AUTHORIZATION = 'test_authorization';

interface Sent {
  name: string;
  status: number;
  body: unknown;
}

describe.each(['sqlite', 'postgres'] as const)('the Postman policy-webhook flow on %s', (backendName) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(env.backends.find((b) => b.name === backendName)!);
  });
  afterAll(async () => s.close());

  it('answers all 17 requests with 2xx and builds the state the flow describes', async () => {
    const sent: Sent[] = [];
    let token = '';
    /** One request as Postman sends a raw JSON body: Content-Type application/json, the bearer of the collection's auth. */
    const send = async (name: string, method: string, path: string, raw?: string) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (raw !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${s.base}${path}`, { method, headers, body: raw });
      const text = await res.text();
      const entry = { name, status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
      sent.push(entry);
      return entry;
    };

    // 1. Get Root Client Token: Postman's "form-data" body is multipart/form-data.
    const form = new FormData();
    form.append('client_id', ROOT_CLIENT.id);
    form.append('client_secret', ROOT_CLIENT.secret);
    const tokenRes = await fetch(`${s.base}${host}/oauth/token`, { method: 'POST', body: form });
    const tokenBody = (await tokenRes.json()) as { access_token: string; token_type: string; expires_in: number; expires_at: string };
    sent.push({ name: 'Get Root Client Token', status: tokenRes.status, body: { ...tokenBody, access_token: '(token)' } });
    token = tokenBody.access_token;
    expect(tokenBody).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });

    await send('Create/Update Policies', 'PATCH', `${host}/dsr/policy`, ` [\n    {\n        "name": "Primary Policy",\n        "key": "${policy_key}"\n    }\n]`);
    await send(
      'Create/Update HTTPS Connection Config',
      'PATCH',
      `${host}/connection/`,
      `[\n    {"name": "My Webhook Connection Configuration",\n    "key": "${http_connection_key}",\n    "connection_type": "https",\n    "access": "read"\n}]`,
    );
    await send(
      'Update HTTPS Connection Secrets',
      'PUT',
      `${host}/connection/${http_connection_key}/secret`,
      `{\n    "url": "${WEBHOOK_URL}",\n    "authorization": "${WEBHOOK_AUTHORIZATION}"\n}`,
    );
    await send(
      'Set Pre-Execution Webhooks',
      'PUT',
      `${host}/dsr/policy/${policy_key}/webhook/pre_execution`,
      `[\n    {\n        "connection_config_key": "${http_connection_key}",\n        "direction": "one_way",\n        "key": "${pre_webhook_one}",\n        "name": "Wake up Snowflake DB Webhook"\n    },\n     {\n        "connection_config_key": "${http_connection_key}",\n        "direction": "two_way",\n        "key": "${pre_webhook_two}",\n        "name": "Prep Systems Webhook"\n    }\n]`,
    );
    await send('Get Pre-Execution Webhook Detail', 'GET', `${host}/dsr/policy/${policy_key}/webhook/pre_execution/${pre_webhook_one}`);
    await send('Update Pre-Execution Webhook', 'PATCH', `${host}/dsr/policy/${policy_key}/webhook/pre_execution/${pre_webhook_one}`, `{\n    "direction": "two_way",\n    "order": 1\n}`);
    await send('Delete Pre-Execution Webhook', 'DELETE', `${host}/dsr/policy/${policy_key}/webhook/pre_execution/${pre_webhook_one}`);
    await send(
      'Set Post-Execution Webhooks',
      'PUT',
      `${host}/dsr/policy/${policy_key}/webhook/post_execution`,
      `[\n    {\n        "connection_config_key": "${http_connection_key}",\n        "direction": "one_way",\n        "key": "${post_webhook_one}",\n        "name": "Cache Busting Webhook"\n    },\n     {\n        "connection_config_key": "${http_connection_key}",\n        "direction": "one_way",\n        "key": "${post_webhook_two}",\n        "name": "Finalize Privacy Request Webhook"\n    }\n]`,
    );
    await send('Get Post-Execution Webhook Detail', 'GET', `${host}/dsr/policy/${policy_key}/webhook/post_execution/${post_webhook_one}`);
    await send('Update Post-Execution Webhook', 'PATCH', `${host}/dsr/policy/${policy_key}/webhook/post_execution/${post_webhook_one}`, `{\n    "direction": "two_way",\n    "order": 1\n\n}`);
    await send('Delete Post-Execution Webhook', 'DELETE', `${host}/dsr/policy/${policy_key}/webhook/post_execution/${post_webhook_two}`);
    const created = await send(
      'Create Access Privacy Requests',
      'POST',
      `${host}/privacy-request`,
      `[\n    {\n        "requested_at": "2021-08-30T16:09:37.359Z",\n        "identity": {"email": "customer-1@example.com"},\n        "policy_key": "${policy_key}"\n    }\n]`,
    );
    const privacy_request_id = (created.body as { succeeded: { id: string }[] }).succeeded[0]?.id ?? '(none)';
    const byId = await send('Check the Status of my Privacy Request', 'GET', `${host}/privacy-request/?id=${privacy_request_id}&verbose=True`);
    const byRequestId = await send('Check Status', 'GET', `${host}/privacy-request/?request_id=${privacy_request_id}&verbose=True`);
    const policy = await send('Get Policy Details', 'GET', `${host}/dsr/policy/${policy_key}/`);
    const connections = await send('Get all Connections', 'GET', `${host}/connection`);

    expect(sent.filter((r) => r.status < 200 || r.status > 299)).toEqual([]);
    expect(sent).toHaveLength(17);

    // What the flow built: one policy, one connection, one webhook left in each list.
    expect(policy.body).toMatchObject({ key: policy_key, name: 'Primary Policy' });
    expect((connections.body as { items: { key: string; connection_type: string }[] }).items).toEqual([
      expect.objectContaining({ key: http_connection_key, connection_type: 'https', access: 'read' }),
    ]);
    const list = async (phase: string) =>
      ((await send(`list ${phase}`, 'GET', `${host}/dsr/policy/${policy_key}/webhook/${phase}`)).body as { items: unknown[] }).items;
    expect(await list('pre_execution')).toEqual([expect.objectContaining({ key: pre_webhook_two, direction: 'two_way', order: 0 })]);
    expect(await list('post_execution')).toEqual([expect.objectContaining({ key: post_webhook_one, direction: 'two_way', order: 0 })]);
    const request = { id: privacy_request_id, policy_key, status: 'pending', identity: { email: 'customer-1@example.com', phone_number: null }, requested_at: '2021-08-30T16:09:37.359Z' };
    for (const page of [byId.body, byRequestId.body]) expect(page).toMatchObject({ items: [request], total: 1 });

    // No answer of the flow carried the webhook's authorization secret.
    expect(JSON.stringify(sent)).not.toContain(WEBHOOK_AUTHORIZATION);
  });

  it('refuses the collection\'s scheme-less secrets URL with a 422 that says why', async () => {
    const res = await s.request('PUT', `${host}/connection/${http_connection_key}/secret`, { body: { url: 'example.com', authorization: WEBHOOK_AUTHORIZATION } });
    expect(res.status).toBe(422);
    const [detail] = (res.body as { detail: { loc: unknown[]; msg: string }[] }).detail;
    expect(detail?.loc).toEqual(['body', 'url']);
    expect(detail?.msg).toMatch(/not an absolute URL.*checked when they are set, not when a privacy request calls them/);
    expect(res.text).not.toContain(WEBHOOK_AUTHORIZATION);
  });
});
